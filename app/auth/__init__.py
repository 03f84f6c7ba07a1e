"""Sign in, sign out, accepting an invitation, password reset and email unsubscribe."""

from app.auth import account as account  # registers /account/password on bp (issue 18)
from app.auth import device as device  # registers its routes on bp
from app.auth import fresh as fresh  # registers /account/confirm on bp (issue 18, A9)
from app.auth import language as language  # the pages' language before sign-in
from app.auth import mfa as mfa  # registers the second-factor routes on bp (issue 18)
from app.auth import reset as reset  # registers its routes on bp
from app.auth.routes import bp

__all__ = ["bp"]
