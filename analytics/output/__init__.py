"""What leaves the analysis: figure and table files (`export`), the report bundle a researcher
archives (`report`), its methods paragraph (`methods`) and the team-meeting summary (`summary`). A new report section is one step in
`report` that returns a Section from an analysis result."""

from analytics.output.export import (
    figure_bytes,
    html_pdf_bytes,
    renderer_problem,
    table_csv_bytes,
    table_xlsx_bytes,
)
from analytics.output.methods import methods_text
from analytics.output.report import Bundle, Section, assemble, bundle_zip, write_bundle
from analytics.output.summary import Summary, meeting_summary, summary_pdf
