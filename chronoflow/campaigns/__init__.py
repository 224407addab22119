"""Campaigns: a message to tagged contacts, paced, windowed, rationed per channel, sent once each.

A campaign owns one chrono (target ``CAMPAIGN``) whose runs are its send steps
(:mod:`chronoflow.campaigns.step`); starting it snapshots the audience into recipient rows.
"""

from chronoflow.campaigns.progress import Progress, estimated_finish, progress, rate_per_minute
from chronoflow.campaigns.report import report_csv
from chronoflow.campaigns.service import CampaignService, TestSend
from chronoflow.campaigns.snapshot import Snapshot
from chronoflow.campaigns.window import SendingWindow

__all__ = [
    "CampaignService",
    "Progress",
    "SendingWindow",
    "Snapshot",
    "TestSend",
    "estimated_finish",
    "progress",
    "rate_per_minute",
    "report_csv",
]
