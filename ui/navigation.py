"""The app's pages by menu section, as (file, title): app.py builds its navigation from them, the
warm-up (ui/serve.py) opens the director's pages, and the browser test walks them all."""

SECTIONS = {
    "Practice": [
        ("pages/overview.py", "Overview"),
        ("pages/outcomes.py", "Outcomes"),
        ("pages/alliance.py", "Alliance and ruptures"),
        ("pages/room_match.py", "Room, match and habits"),
        ("pages/watch_list.py", "Watch list"),
        ("pages/therapists.py", "Therapists"),
    ],
    "Research": [
        ("pages/survival.py", "Survival"),
        ("pages/drivers.py", "Drivers of dropout"),
        ("pages/export.py", "Export and recipe"),
    ],
    "Data": [("pages/data.py", "Data")],
}
DEFAULT = "pages/overview.py"
DIRECTOR_PAGES = SECTIONS["Practice"]  # the pages a clinic director works from
