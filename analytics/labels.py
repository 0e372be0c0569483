"""Letter labels shared by spreadsheet column names (A, B, ..., Z, AA) and anonymous therapist labels."""


def letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ... (bijective base 26, as spreadsheets name columns)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out
