"""Schedule pages: the calendar (pages), and the forms that change it (edit)."""
