from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from compliance.audit import record_login_failure

        # Failed logins go to the audit trail (allauth's login sends Django's signal).
        user_login_failed.connect(record_login_failure, dispatch_uid="compliance_audit_login")
