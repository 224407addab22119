"""Schedule strings (cron, ISO date-times, English and Portuguese phrases) into runnable schedules."""

from chronoflow.nlcron.describe import describe
from chronoflow.nlcron.errors import ScheduleError
from chronoflow.nlcron.fire_times import next_fire_after
from chronoflow.nlcron.parser import parse
from chronoflow.nlcron.preview import next_fire_times
from chronoflow.nlcron.schedule import Schedule

__all__ = ["Schedule", "ScheduleError", "describe", "next_fire_after", "next_fire_times", "parse"]
