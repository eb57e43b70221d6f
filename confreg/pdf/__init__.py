"""Printed documents: render_x(data) -> PDF bytes; no queries, no request."""
