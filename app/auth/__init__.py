"""Sign in, sign out, and accepting an invitation."""

from app.auth.routes import bp

__all__ = ["bp"]
