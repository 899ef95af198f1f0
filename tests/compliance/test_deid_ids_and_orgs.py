"""EHR user names, employers and miscellaneous codes, found by cue and word shape (never by a
list of the names themselves), and the clinical look-alikes that must stay. All text is made up.

The look-alikes are checked on the rule layers (`use_learned=False`), which this file covers; the
learned layer may only add to what the rules find."""

import pytest

from compliance.deid import LABELS, find_spans
from compliance.deid.redact import redact


def spans(text: str, *, learned: bool | None = None):
    return find_spans(text, time_limit=None, use_ner=False, use_learned=learned)


def covered(text: str, word: str) -> bool:
    start = text.index(word)
    return any(s.start <= start and start + len(word) <= s.end for s in spans(text))


def redacted_rules(text: str) -> set[str]:
    return {text[s.start : s.end] for s in spans(text, learned=False)}


USERNAMES = [
    ("Note entered by jsmith2 at 14:00.", "jsmith2"),
    ("user: mlopez", "mlopez"),
    ("Chart accessed (user: kbrown) for audit.", "kbrown"),
    ("Last edited by: tnguyen01 on the unit", "tnguyen01"),
    ("Logged in as rpatel3 to print the MAR.", "rpatel3"),
    ("Author: alee7", "alee7"),
    ("Order cosigned by dwhite after rounds.", "dwhite"),
    ("by: jmartinez", "jmartinez"),
    ("Username: JSMITH2", "JSMITH2"),
    ("login id = mlopez01", "mlopez01"),
    ("Accessed by j.smith on the evening shift.", "j.smith"),
    ("User ID: hgarcia4", "hgarcia4"),
    ("[user: bokafor]", "bokafor"),
    ("Documented by sjohnson12 per protocol.", "sjohnson12"),
    ("Reviewed by: ckim", "ckim"),
    ("Flowsheet updated by lwilliams3.", "lwilliams3"),
    ("Electronically signed by: pdavis", "pdavis"),
    ("Modified by maria_lopez at 0815.", "maria_lopez"),
    ("Results viewed by rthompson5 at 09:12.", "rthompson5"),
    ("jsmith2 reviewed the chart with the charge nurse.", "jsmith2"),
    ("Addendum by mrodriguez7: family updated.", "mrodriguez7"),
    ("Printed by: aclark", "aclark"),
    ("Operator: jwilson9", "jwilson9"),
    ("EHR user: nhernandez", "nhernandez"),
    ("Entered and verified by kmoore22.", "kmoore22"),
]


@pytest.mark.parametrize(("text", "login"), USERNAMES)
def test_ehr_user_names_are_found(text, login):
    assert covered(text, login), text


def test_a_user_name_gets_the_username_label_and_a_login_shaped_surrogate():
    assert "USERNAME" in LABELS
    text = "Note entered by jsmith2; later jsmith2 again. Reviewed by: j.lopez"
    found = spans(text, learned=False)
    assert {s.label for s in found} == {"USERNAME"}
    out = redact(text, found, seed=11).text
    assert "jsmith2" not in out and "j.lopez" not in out
    first = [new for s, new in redact(text, found, seed=11).replacements]
    assert first[0] == first[1]  # the same login, the same surrogate
    assert first[0].islower() and first[0][-1].isdigit() and " " not in first[0]
    assert "." in first[2]


EMPLOYERS = [
    ("Husband CEO of ACME.", "ACME"),
    ("Husband is CEO of ACME and visits daily.", "ACME"),
    ("She works for Brightway Logistics as a driver.", "Brightway"),
    ("Employed by Northwind Traders since the spring.", "Northwind"),
    ("Works at Hollow Pine Bakery.", "Hollow"),
    ("Retired from Consolidated Edison.", "Consolidated"),
    ("Pt works at walmart on weekends.", "walmart"),
    ("Daughter is a teacher at Jefferson Elementary.", "Jefferson"),
    ("Owner of Lark & Finch, a flower shop.", "Lark"),
    ("Son works for UPS.", "UPS"),
    ("Wife is president of Zephyr Holdings.", "Zephyr"),
    ("He is a cashier at Costco.", "Costco"),
    ("Was laid off from Granite Mills last year.", "Granite"),
    ("Worked for Initrode for 20 years.", "Initrode"),
    ("Mother is manager at Bluewater Grocery.", "Bluewater"),
    ("Employer: Kestrel Aerospace", "Kestrel"),
    ("Brother is a partner at Whitlock Pryor LLP.", "Whitlock"),
    ("Father was foreman at Redstone Quarry.", "Redstone"),
    ("Pt is an electrician for Voltaic Contractors.", "Voltaic"),
    ("Wife employed at brightwave.", "brightwave"),
    ("Retired founder of Quillon Software.", "Quillon"),
    ("Patient works for IBEX as an analyst.", "IBEX"),
    ("Sister is a director at Marlowe Trading.", "Marlowe"),
    ("Husband owns Sandoval Automotive.", "Sandoval"),
    ("Son is a supervisor at Cobalt Distributors.", "Cobalt"),
]


@pytest.mark.parametrize(("text", "org"), EMPLOYERS)
def test_employers_are_found(text, org):
    assert covered(text, org), text


CODES = [
    ("Confirmation # K7Q2P9 for the ride home.", "K7Q2P9"),
    ("Prior auth number 58213 approved.", "58213"),
    ("Requisition: RQ-20417 sent to lab.", "RQ-20417"),
    ("Locker 214 holds his belongings.", "214"),
    ("Access code 4471 for the building.", "4471"),
    ("Ticket T-99812 opened with IT.", "T-99812"),
    ("Code: XJ42B", "XJ42B"),
    ("Order # 771203 placed.", "771203"),
    ("Encounter ID ENC88213 on the label.", "ENC88213"),
    ("Specimen A23-4471 to pathology.", "A23-4471"),
    ("Authorization code: AUTH7731 from the insurer.", "AUTH7731"),
    ("Accession no. S24-11873 pending.", "S24-11873"),
    ("Transport reservation 66120 confirmed.", "66120"),
    ("Referral # RF2291 faxed.", "RF2291"),
    ("Voucher 3318A given for the cafeteria.", "3318A"),
    ("Visit number V445120.", "V445120"),
    ("Precert 88C412 obtained.", "88C412"),
    ("Incident report # IR-5521 filed.", "IR-5521"),
    ("Barcode 00412339 on the wristband.", "00412339"),
    ("Door code 7342 given to the family.", "7342"),
    ("Tracking number 1Z88X4410 for the kit.", "1Z88X4410"),
    ("Case # 24-0317 with social work.", "24-0317"),
    ("Transaction 9A77QX at the pharmacy.", "9A77QX"),
    ("Control no 55120-B on the form.", "55120-B"),
    ("CSN 7788123 for this admission.", "7788123"),
]


@pytest.mark.parametrize(("text", "code"), CODES)
def test_miscellaneous_codes_are_found(text, code):
    assert covered(text, code), text


MUST_STAY = [
    ("pt on o2 2l nc", {"o2", "2l"}),
    ("ICD-10 I10 for hypertension", {"I10"}),
    ("CPT code: 99213", {"99213"}),
    ("code: I10", {"I10"}),
    ("lot of secretions suctioned", {"lot"}),
    ("code status: full code", {"full", "code"}),
    ("ACE inhibitor started for BP", {"ACE"}),
    ("spo2 98% on 4l", {"spo2", "98%"}),
    ("paco2 45, mgso4 2g iv", {"mgso4"}),
    ("A&O x3, axox3 this am", {"axox3"}),
    ("peep5 ps10 tolerating", {"peep5", "ps10"}),
    ("ref range 98-100", {"98-100"}),
    ("sample 250 ml sent to lab", {"250"}),
    ("auth pending from insurance", {"pending"}),
    ("heroin user since age 20", {"since"}),
    ("entered by nurse at bedside", {"nurse"}),
    ("confirmed by cxr, replaced by lasix", {"cxr", "lasix"}),
    ("followed by cardiology team", {"cardiology"}),
    ("works with PT daily", {"PT"}),
    ("works at home part time", {"home"}),
    ("retired from teaching", {"teaching"}),
    ("Director of Nursing aware.", {"Nursing"}),
    ("monitor for DVT, watch for SOB", {"DVT", "SOB"}),
    ("order for CBC and lytes", {"CBC"}),
    ("Code Blue called", {"Blue"}),
]


@pytest.mark.parametrize(("text", "words"), MUST_STAY)
def test_look_alikes_stay(text, words):
    found = redacted_rules(text)
    assert not {w for w in words if any(w in f for f in found)}, (text, found)
