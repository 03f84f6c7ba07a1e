"""Sign-in, sign-out, throttling and invitations.

Only a face: every name is defined in the module that says what it holds, and importing
it from here keeps working (``accounts.authenticate(...)``):

* ``passwords``: the password rules.
* ``signin``: checking a password, throttled, and opening a session.
* ``sessions``: the person behind a session cookie, signing out.
* ``mfa``: staff second factor (TOTP, recovery codes, trusted browsers, admin reset).
* ``reauth``: "confirm it's you" before sensitive staff actions.
* ``password_change``: changing one's password; other sessions end.
* ``devices``: a patient's remembered phone and its PIN.
* ``link_notice``: telling the person a clinic-made link replaced their password.
* ``invitations``: the single-use link (patient or staff) to set a password and sign in.
* ``staff``: clinician and clinic-admin accounts: the list, invitations, new links.
* ``staff_changes``: a role, deactivating and reactivating (the clinic keeps an admin).
* ``links``: the one place a sign-in link is handed to the mail channel.
* ``reset``: self-service password reset by emailed link.
"""

from app.services.accounts.invitations import accept_invitation as accept_invitation
from app.services.accounts.invitations import issue_invitation as issue_invitation
from app.services.accounts.invitations import usable_invitation as usable_invitation
from app.services.accounts.passwords import MAX_PASSWORD as MAX_PASSWORD
from app.services.accounts.passwords import MIN_PASSWORD as MIN_PASSWORD
from app.services.accounts.passwords import check_password_rules as check_password_rules
from app.services.accounts.passwords import common_passwords as common_passwords
from app.services.accounts.reset import request_reset as request_reset
from app.services.accounts.reset import reset_password as reset_password
from app.services.accounts.reset import usable_reset as usable_reset
from app.services.accounts.sessions import end_session as end_session
from app.services.accounts.sessions import replace_session as replace_session
from app.services.accounts.sessions import session_owner as session_owner
from app.services.accounts.sessions import user_for_session as user_for_session
from app.services.accounts.signin import authenticate as authenticate
from app.services.accounts.staff import create_staff as create_staff
