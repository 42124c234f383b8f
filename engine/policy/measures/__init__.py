"""The 30 measures' supervision: reports and assessments per period."""
