"""Test a Mattermost App without a Mattermost server: a fake Mattermost REST server and an
emulator of the Apps plugin, both speaking real HTTP on 127.0.0.1.

    with FakeMattermost() as mattermost, serve(create_app(settings)) as app_url:
        plugin = AppsPlugin(mattermost)
        app = plugin.install(f"{app_url}/manifest.json", secret=settings.secret)
        user = mattermost.add_user("alice")
        response = plugin.run_command(app, user, "/hello-jwt send")
"""

from hello_jwt.testing.fake_mattermost import FakeMattermost, Fault, User
from hello_jwt.testing.plugin import AppsPlugin, InstalledApp, InstallError, validate_manifest
from hello_jwt.testing.server import serve

__all__ = [
    "AppsPlugin",
    "FakeMattermost",
    "Fault",
    "InstallError",
    "InstalledApp",
    "User",
    "serve",
    "validate_manifest",
]
