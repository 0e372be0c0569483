"""Watch list: clients in therapy now, ranked by their estimated risk of dropping out, with the
reasons in words and when each was last seen, so a director knows whom to check in with first."""

import streamlit as st

from analytics.caseload import label_order
from analytics.charts import regression as regression_charts
from analytics.practice import watch_list as wl
from ui import state, widgets

st.title("Watch list")
caseload = state.require_caseload()
episodes = state.current_episodes()
suppress_below = state.suppress_below()

st.markdown(
    "Clients still in therapy, ranked by the estimated chance that their therapy ends in dropout. The estimate "
    "comes from the practice's own ended episodes, each seen part-way through (as today's clients are), using only "
    "what was known at that point: attendance and missed appointments so far, the latest alliance rating and recent "
    "ruptures, and intake facts such as the referral. Clients are shown by id only. Days since last contact count "
    "from the last attended session to the export date; the next booked appointment is the first one booked after it."
)
sessions = state.current_sessions()
appointments = None if sessions is None else state.cached_for_every_definition(
    "appointment_features", wl.appointment_features, sessions)  # the same under every definition
result = widgets.result_or_reason("watch_list", wl.watch_list, sessions, episodes,
                                  export_date=caseload.export_date, booked=caseload.booked, appointments=appointments)
if result is None:
    st.stop()
for warning in result.warnings:
    st.caption(warning)

table = result.table
labels = state.therapist_labels()
ids = sorted(table["therapist_id"].dropna().unique(), key=lambda i: label_order(labels[i]))
chosen = st.selectbox("Therapist", [None] + ids, key="watch_list_therapist",
                      format_func=lambda t: "All therapists" if t is None else labels[t],
                      help="One therapist's clients, to download and take to supervision.")
if chosen is not None:
    table = state.cached("watch_list", wl.watch_list, sessions, episodes, therapist=chosen,
                         export_date=caseload.export_date, booked=caseload.booked, appointments=appointments).table
st.markdown(f"**{result.takeaway}**")
if result.booked_note:
    st.caption(result.booked_note)
shown = table.assign(therapist=table["therapist_id"].map(labels))
columns = ["rank", "client_id", "therapist", "sessions_attended", "last_attended", "days_since_contact",
           *([] if result.booked_note else ["next_appointment"]), "risk", "reasons"]
widgets.table(shown[columns],
              "watch_list" if chosen is None else f"watch_list_{labels[chosen]}", wide=("reasons",))

st.header("How accurate is the ranking?")
accuracy = result.accuracy.iloc[0]
auc, held_out = st.columns(2)
figure, caption = wl.auc_reading(accuracy)
auc.metric("AUC on held-out ended episodes", figure)
auc.caption(caption)
held_out.metric("Held-out episodes", f"{int(accuracy['test_episodes']):,}")
held_out.caption(f"A fixed 30% of ended episodes, not used to fit the model; {int(accuracy['train_episodes']):,} were used to fit it.")
chart = state.cached_shown("chart_watch_list_calibration", lambda calibration, threshold: regression_charts.calibration_figure(
    wl.CALIBRATION_PRIVACY.suppress(calibration, threshold).drop(columns="suppressed")), result.calibration, suppress_below)
widgets.figure(chart, None, "watch_list_calibration_chart",
               "Calibration: within each tenth of predicted risk, the share who actually dropped out (95% intervals). "
               "Points near the diagonal mean the percentages can be read at face value. A tenth is hidden only when "
               f"it holds fewer than {suppress_below} clients.")
widgets.table(result.calibration, "watch_list_calibration", wl.CALIBRATION_PRIVACY)
st.header("What the model weighs")
st.markdown("Odds ratios per unit of each feature (above 1: more dropout), from the model fitted on all ended episodes; "
            "beside each, the odds ratio of the feature on its own.")
for note in result.model_notes:
    st.markdown(f"- {note}")
widgets.for_researchers(result.coefficients, "watch_list_model")
