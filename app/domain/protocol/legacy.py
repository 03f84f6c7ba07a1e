"""The check-in rules applied in code before they became protocol data.

Versions stored before then (``parse_protocol(..., stored=True)``) get these: every
question asked every day, and the tiers of the old code, with the sources it named.
"""

LEGACY_CHECKIN = """
[[question]]
key = "pain"
source = "built-in check-in before protocol rules"
[[question]]
key = "bruising"
source = "built-in check-in before protocol rules"
[[question]]
key = "skin"
source = "built-in check-in before protocol rules"
[[question]]
key = "lumps"
source = "built-in check-in before protocol rules"
[[question]]
key = "itching"
source = "built-in check-in before protocol rules"
[[question]]
key = "stockings_day"
source = "built-in check-in before protocol rules"
[[question]]
key = "stockings_night"
source = "built-in check-in before protocol rules"
[[question]]
key = "walked"
source = "built-in check-in before protocol rules"
[[question]]
key = "elevated"
source = "built-in check-in before protocol rules"

[[answer_rule]]
key = "skin-breakdown"
answer = "skin"
choices = ["blister", "sore", "pale", "black"]
tier = "same_day"
source = "ref 2.6 urgent tier: skin necrosis or ulcer (Asclera warnings)"
[[answer_rule]]
key = "skin-marks"
answer = "skin"
choices = ["brown", "red-vessels"]
tier = "routine"
source = "ref 2.5: pigmentation and matting"
[[answer_rule]]
key = "pain-severe"
answer = "pain"
at_least = 8
tier = "same_day"
source = "ref 2.6 urgent tier: severe or worsening pain (Asclera)"
[[answer_rule]]
key = "pain-moderate"
answer = "pain"
at_least = 5
tier = "routine"
source = "ref 2.5-2.6 routine tier"
[[answer_rule]]
key = "lumps"
answer = "lumps"
tier = "routine"
source = "ref 2.5-2.6 routine tier: trapped blood"
[[answer_rule]]
key = "bruising"
answer = "bruising"
choices = ["moderate", "severe"]
tier = "routine"
source = "ref 2.5-2.6 routine tier"
[[answer_rule]]
key = "itching"
answer = "itching"
tier = "routine"
source = "ref 2.5-2.6 routine tier"
"""
