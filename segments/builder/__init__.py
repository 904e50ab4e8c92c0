"""The segment builder: rules as rows of field / operator / value widgets, nested AND / OR / NOT groups.

Progressive enhancement of the rules JSON textarea: the server-side form field, its validation and the
live preview are unchanged; the widget (segments/static/segments/builder.js) reads the JSON, draws the
rows and writes the JSON back on every change. The textarea stays as the "Advanced: JSON" toggle and
round-trips both ways: edits in the JSON redraw the rows. Keys a row has no widget for (a purchase
"period", a message "template") are kept as they are and shown as a note.
"""

from segments.builder.widgets import RulesBuilderWidget

__all__ = ["RulesBuilderWidget"]
