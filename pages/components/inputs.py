"""Inputs shared by the pages where Panel's stock widget falls short for a keyboard or screen-reader user.

* :class:`DateInput` — a calendar date that can be typed (``2024-07-01``, then Enter or Tab) as
  well as picked: Panel's ``DatePicker`` opens a read-only field that only the mouse can fill.
  It is Panel's flatpickr ``DatetimePicker`` without the time, holding a ``datetime.date``, so
  ``DateInput.from_param(self.param.day, label=...)`` replaces ``DatePicker.from_param`` as is.
"""

from __future__ import annotations

import datetime as dt

import param
from panel.widgets.input import _DatetimePickerBase

DATE_FORMAT = "Y-m-d"  # flatpickr's notation for ISO days: what a user types and what the field shows


def _day(v) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v).strip()[:10])


class DateInput(_DatetimePickerBase):
    """A date field that accepts typed ISO days and has a calendar to pick from."""

    value = param.CalendarDate(default=None, doc="the chosen day (None: empty)")
    mode = param.String("single", constant=True, doc="always one day")
    enable_time = param.Boolean(default=False, doc="days only")
    enable_seconds = param.Boolean(default=False)
    allow_input = param.Boolean(default=True, doc="the day can be typed as YYYY-MM-DD")

    def _serialize_value(self, value):  # the browser's text -> a date
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                return _day(text)
            except ValueError:
                return self.value  # flatpickr only sends days it parsed; keep the day on anything else
        return _day(value)

    def _deserialize_value(self, value):  # a date (converted to datetime by the base) -> the field's text
        return value.strftime("%Y-%m-%d") if isinstance(value, (dt.date, dt.datetime)) else value

    @param.depends("start", "end", watch=True)
    def _update_value_bounds(self):
        self.param.value.bounds = (_day(self.start), _day(self.end))
        self.param.value._validate(self.value)

    def _process_param_change(self, params):
        props = super()._process_param_change(params)
        if "allow_input" in props:  # the whole property set (building the model): days only
            props["date_format"] = DATE_FORMAT
        return props
