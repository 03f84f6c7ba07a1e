"""Outcomes per session (issue 19 points 6 and 7).

Only a face; each name lives in the module that says what it holds:

- ``rating``: the patient's side: which session's rating is due (the card on Today), the
  rating form and saving it;
- ``scoring``: the clinician's side for one patient: each session's rating, clearance
  score and stocking wear (the patient page's partial), and the blinded scoring page;
- ``pairs``: a session's matched before and after photos of the same site;
- ``report``: the clinic's outcomes page and its CSV, aggregated in SQL.
"""

from app.services.outcomes.rating import Prompt as Prompt
from app.services.outcomes.rating import RatingPage as RatingPage
from app.services.outcomes.rating import due_prompt as due_prompt
from app.services.outcomes.rating import rating_page as rating_page
from app.services.outcomes.rating import save_rating as save_rating
from app.services.outcomes.report import clinic_report as clinic_report
from app.services.outcomes.report import report_csv as report_csv
from app.services.outcomes.scoring import patient_outcomes as patient_outcomes
from app.services.outcomes.scoring import save_score as save_score
from app.services.outcomes.scoring import scoring_page as scoring_page
