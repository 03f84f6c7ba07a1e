"""Staff accounts: clinicians and clinic admins, created from the command line."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from app.models import User
from app.security import hash_password
from app.security import normalise_email
from app.services.accounts.passwords import check_password_rules
from app.services.errors import Invalid


def create_staff(clinic_id: int, email: str, name: str, password: str, role: Role) -> User:
    """Create (or update the password of) a clinician or clinic admin; idempotent."""
    check_password_rules(password)
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        user = User(email=normalise_email(email), name=name, role=role, clinic_id=clinic_id)
        db.session.add(user)
    elif user.role == Role.PATIENT:
        raise Invalid("email", "That email belongs to a patient.")
    user.password_hash = hash_password(password)
    db.session.commit()
    return user
