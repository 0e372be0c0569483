"""Write imputed_sets.csv: five completed copies (column `.imp`) of cox_tied.csv with a fifth of
the ages removed, filled in by analytics.models.imputation.impute (statsmodels MICEData, seed 7).
make_imputation_reference.R fits and pools the same sets in R.

Run once from the repository root: `PYTHONPATH=. .venv/bin/python tests/reference/make_imputation_data.py`.
"""

import numpy as np
import pandas as pd

from analytics.models.imputation import impute
from tests.paths import REFERENCE

if __name__ == "__main__":
    data = pd.read_csv(REFERENCE / "cox_tied.csv")
    data.loc[np.arange(len(data)) % 5 == 2, "age"] = np.nan
    sets, _, _ = impute(data, ["age", "court_mandated", "referral"], imputations=5, seed=7)
    pd.concat([s.assign(**{".imp": k + 1}) for k, s in enumerate(sets)]).to_csv(
        REFERENCE / "imputed_sets.csv", index=False)
