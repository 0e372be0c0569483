"""Files in, the canonical caseload out: readers (CSV, Excel, Parquet), the suggested and editable
mapping, checks that report every problem at once, the direct-identifier scan, and the data
dictionary. A new import format goes into `readers` (or a module beside it) and ends as a table
that `load_caseload` maps like any other."""

from analytics.ingest.dictionary import data_dictionary, template_csv
from analytics.ingest.load import (
    IngestResult,
    files_received,
    load_caseload,
    load_sample,
)
from analytics.ingest.mapping import Mapping, TableMapping, suggest_mapping
from analytics.ingest.privacy import (
    IdentifierFinding,
    hash_identifier,
    scan_identifiers,
)
from analytics.ingest.problems import Problem, has_errors, problems_table
from analytics.ingest.readers import list_sheets, read_table, source_name
