from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an e-mail address. Roles are Django groups (accounts.roles)."""

    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class Capability(models.Model):
    """Holds the product's permissions that belong to no single model (see accounts.roles).

    No table: Django creates permissions for unmanaged models too, which is all this is for.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("draft_posts", "Import and draft own posts"),
            ("request_ai_drafts", "Ask for AI-assisted drafts"),
            ("review_posts", "Review, schedule, publish and archive any post"),
            ("manage_general_models", "Train, promote and roll back general models"),
            ("handle_clinical_notes", "Upload and review clinical notes"),
            ("approve_clinical_posts", "Approve clinical-channel posts"),
            ("manage_clinical_models", "Train, promote and roll back clinical models"),
            ("view_audit_trail", "Read and export the audit trail"),
            ("manage_users", "Manage users, roles and API keys"),
        ]

    def __str__(self) -> str:
        return "capability"
