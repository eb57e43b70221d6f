"""Staff pages, one blueprint per desk; every route declares the roles that may use it."""
