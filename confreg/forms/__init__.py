"""Flask-WTF forms: the shape of the input and single-field rules."""
