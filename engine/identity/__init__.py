"""Identity: the organisation (departments, users, roles), accounts and authorization."""
