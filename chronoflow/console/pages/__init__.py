"""One module per console page family; each exports a Litestar controller."""

from chronoflow.console.pages.access import AccessController
from chronoflow.console.pages.campaigns import CampaignPages
from chronoflow.console.pages.channels import ChannelPages
from chronoflow.console.pages.chronos import ChronoPages
from chronoflow.console.pages.contacts import ContactPages
from chronoflow.console.pages.functions import FunctionPages
from chronoflow.console.pages.overview import OverviewPage

__all__ = ["AccessController", "CampaignPages", "ChannelPages", "ChronoPages", "ContactPages", "FunctionPages",
           "OverviewPage"]
