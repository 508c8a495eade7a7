"""`serving_environment`: the dev servers take a setting from the shell over the stage's value."""

from __future__ import annotations

from chalicelib.config import serving_environment


def test_the_shells_settings_win_over_the_stage_which_wins_over_the_rest() -> None:
    shell = {"PATH": "/bin", "HOST": "x", "FI_QUEUE_CAPACITY": "10", "FI_ACCESS_LOG": "0"}
    stage = {"FI_QUEUE_CAPACITY": "100000", "FI_WORKER": "1", "HOST": "from-stage"}
    assert serving_environment(stage, shell) == {
        "PATH": "/bin",
        "HOST": "from-stage",  # not a setting: the stage's, as chalice local has it
        "FI_QUEUE_CAPACITY": "10",
        "FI_ACCESS_LOG": "0",
        "FI_WORKER": "1",
    }


def test_an_empty_setting_in_the_shell_does_not_hide_the_stages() -> None:
    stage = {"FI_API_KEYS": '{"...": {}}'}
    assert serving_environment(stage, {"FI_API_KEYS": ""})["FI_API_KEYS"] == '{"...": {}}'
    assert serving_environment({}, {"FI_API_KEYS": ""})["FI_API_KEYS"] == ""
