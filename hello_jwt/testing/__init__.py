"""Test a Mattermost App without a Mattermost server: a fake Mattermost REST server and an
emulator of the Apps plugin, both speaking real HTTP on 127.0.0.1.

    with FakeMattermost() as mattermost, serve(my_asgi_app) as app_url, AppsPlugin(mattermost) as plugin:
        app = plugin.install(f"{app_url}/manifest.json", secret="the secret")
        alice = mattermost.add_user("alice")
        result = plugin.run_command(app, alice, "/my-app do-something --flag value")
        assert result.ok
        [post] = mattermost.wait_for_posts(1)

Modules: ``fake_mattermost`` (the REST server), ``plugin`` (the emulator), ``profiles`` (plugin
versions), ``manifest``, ``cleaning``, ``command``, ``expand``, ``call_request``, ``responses``,
``wire`` (the plugin's rules, one job each), ``users``, ``server`` (uvicorn on a free port).
"""

from hello_jwt.testing.cleaning import clean_bindings, clean_form
from hello_jwt.testing.command import CommandError
from hello_jwt.testing.fake_mattermost import FakeMattermost, Fault, RecordedRequest
from hello_jwt.testing.manifest import clean_static_path, validate_manifest
from hello_jwt.testing.plugin import AppsPlugin, Bindings, InstalledApp, InstallError
from hello_jwt.testing.profiles import HEAD, PROFILES, V1_2_0, V1_2_1, V1_2_2, PluginProfile
from hello_jwt.testing.responses import CallResult
from hello_jwt.testing.server import serve
from hello_jwt.testing.upstream import Exchange
from hello_jwt.testing.users import User
from hello_jwt.testing.wire import go_json, sign_token

__all__ = [
    "HEAD",
    "PROFILES",
    "V1_2_0",
    "V1_2_1",
    "V1_2_2",
    "AppsPlugin",
    "Bindings",
    "CallResult",
    "CommandError",
    "Exchange",
    "FakeMattermost",
    "Fault",
    "InstallError",
    "InstalledApp",
    "PluginProfile",
    "RecordedRequest",
    "User",
    "clean_bindings",
    "clean_form",
    "clean_static_path",
    "go_json",
    "serve",
    "sign_token",
    "validate_manifest",
]
