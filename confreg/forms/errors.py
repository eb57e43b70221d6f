"""Showing a service's refusal beside the field it names."""


def field_named(form, name: str):
    """The form's field called `name` (with or without the form's prefix), looking inside list
    rows too; None if there is none."""
    for field in form:
        if name in (field.name, field.short_name):
            return field
        if field.type == "FieldList":
            for entry in field:
                for sub in entry.form:
                    if sub.name == name:
                        return sub
    return None


def show_beside_field(form, error) -> bool:
    """Put a ServiceError's message beside its field; False when no field of the form can show it."""
    field = field_named(form, error.field) if error.field else None
    if field is None:
        return False
    field.errors = [*field.errors, error.message]
    return True
