"""hello-jwt: a Mattermost App that checks the Apps plugin's JWT on every call."""

__version__ = "0.1.0"
