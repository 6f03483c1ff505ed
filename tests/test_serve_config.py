"""The server's settings: a config file of the wrong shape is one line naming the file, the key and the shape."""

import json

import pytest

from leanprogress.cli import main
from leanprogress.serve import ServerConfig

RETRIEVAL = {"kind": "retrieval", "corpus": "d.jsonl"}

# (file name, file text, what the one error line must say after "FILE: ")
MALFORMED = [
    ("list.json", json.dumps({"generators": [RETRIEVAL]}),
     "'generators' must be a mapping of generator names to entries such as"),
    ("entry.json", json.dumps({"generators": {"r": "retrieval"}}),
     "'generators': generator 'r' must be a mapping with 'kind' (retrieval, hf or openai) and its options, "
     "got the string 'retrieval'"),
    ("string.json", json.dumps({"generators": {"retrieval": RETRIEVAL}, "reward_by_default": "retrieval"}),
     "'reward_by_default' must be a list of generator names, such as [\"retrieval\"], got the string 'retrieval'"),
    ("names.json", json.dumps({"generators": {"retrieval": RETRIEVAL}, "reward_by_default": [["retrieval"]]}),
     "'reward_by_default' must be a list of generator names"),
    ("unknown-name.json", json.dumps({"generators": {"retrieval": RETRIEVAL}, "reward_by_default": ["vllm"]}),
     "reward_by_default names unknown generator 'vllm'; generators: ['retrieval']"),
    ("port.json", json.dumps({"port": "8080"}), "'port' must be an integer (a port, 0-65535), got the string '8080'"),
    ("bool-port.json", json.dumps({"port": True}), "'port' must be an integer (a port, 0-65535), got true"),
    ("port-range.json", json.dumps({"port": 70000}), "port must be in [0, 65535], got 70000"),
    ("alpha.json", json.dumps({"alpha": "0.2"}), "'alpha' must be a number in [0, 1] or null, got the string '0.2'"),
    ("alpha-range.json", json.dumps({"alpha": 2}), "alpha must be in [0, 1], got 2"),
    ("nan.json", '{"request_timeout_s": NaN}', "request_timeout_s must be a finite number > 0, got nan"),
    ("flag.json", json.dumps({"model_generator": "yes"}), "'model_generator' must be true or false, got the string 'yes'"),
    ("format.json", json.dumps({"score_format": "percent"}), "score_format must be one of ('probability', 'log')"),
    ("timeout.json", json.dumps({"request_timeout_s": [60]}), "'request_timeout_s' must be a number of seconds (> 0), got a list"),
    ("typo.json", json.dumps({"reward_default": ["retrieval"]}), "unknown key 'reward_default'; did you mean 'reward_by_default'?"),
    ("top.json", json.dumps([{"port": 1}]), "expected a JSON object of settings at the top level, got a list"),
    ("syntax.json", '{"port": 1,}', "cannot parse JSON (Expecting property name enclosed in double quotes: line 1 column 12"),
    ("kind.json", json.dumps({"generators": {"g": {"kind": "vllm"}}}),
     "'generators': generator 'g': unknown kind 'vllm'; use retrieval, hf or openai"),
    ("no-kind.json", json.dumps({"generators": {"g": {"model": "m"}}}),
     "'generators': generator 'g': has no 'kind'; use retrieval, hf or openai"),
    ("needs.json", json.dumps({"generators": {"g": {"kind": "hf"}}}),
     "'generators': generator 'g': hf needs 'model' (a local folder)"),
    ("option.json", json.dumps({"generators": {"g": {"kind": "hf", "model": "m", "num_beam": 8}}}),
     "'generators': generator 'g': unknown option 'num_beam' for kind hf; its options: device, max_new_tokens, "
     "model, num_beams, prompt, temperature"),
    ("option-type.json", json.dumps({"generators": {"g": {"kind": "hf", "model": "m", "num_beams": "8"}}}),
     "'generators': generator 'g': 'num_beams' must be an integer, got the string '8'"),
    ("list.toml", 'generators = ["retrieval"]\n', "'generators' must be a mapping of generator names"),
    ("string.toml", 'reward_by_default = "retrieval"\n[generators.retrieval]\nkind = "retrieval"\ncorpus = "d.jsonl"\n',
     "'reward_by_default' must be a list of generator names, such as [\"retrieval\"], got the string 'retrieval'"),
    ("option.toml", '[generators.g]\nkind = "openai"\nbase_url = "http://127.0.0.1:8000/v1"\nmodel = "m"\ntimeout = "60"\n',
     "'generators': generator 'g': 'timeout' must be a number, got the string '60'"),
    ("syntax.toml", 'port = \n', "cannot parse TOML (Invalid value (at line 1, column 8))"),
]


def _never_bind(host, port):
    raise AssertionError(f"the config was accepted: the server went on to listen on {host}:{port}")


@pytest.mark.parametrize("name, text, message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_config_is_one_line_naming_the_file_the_key_and_the_shape(tmp_path, capsys, monkeypatch,
                                                                              name, text, message):
    monkeypatch.delenv("LEANPROGRESS_MODEL", raising=False)
    monkeypatch.setattr("leanprogress.serve.cli.bind", _never_bind)  # refused before the port is taken
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert main(["serve", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"leanprogress: error: {path}: ") and message in err, err


def test_a_config_that_is_not_utf8_or_a_folder_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("leanprogress.serve.cli.bind", _never_bind)
    bad = tmp_path / "latin1.json"
    bad.write_bytes('{"host": "caf\xe9"}'.encode("latin-1"))
    folder = tmp_path / "conf.d"
    folder.mkdir()
    for path, message in ((bad, "not valid UTF-8 at line 1 (byte 0xe9)"), (folder, "is a directory"),
                          (tmp_path / "none.json", "not found")):
        assert main(["serve", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and message in err, err


def test_well_formed_json_and_toml_configs_give_the_same_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("LEANPROGRESS_MODEL", raising=False)
    settings = {"port": 8123, "alpha": 0.2, "model_generator": False, "reward_by_default": ["retrieval"],
                "generators": {"retrieval": RETRIEVAL, "reprover": {"kind": "hf", "model": "/m", "num_beams": 8,
                                                                    "temperature": 1}}}
    (tmp_path / "c.json").write_text(json.dumps(settings))
    (tmp_path / "c.toml").write_text(
        'port = 8123\nalpha = 0.2\nmodel_generator = false\nreward_by_default = ["retrieval"]\n'
        '[generators.retrieval]\nkind = "retrieval"\ncorpus = "d.jsonl"\n'
        '[generators.reprover]\nkind = "hf"\nmodel = "/m"\nnum_beams = 8\ntemperature = 1\n')
    a, b = (ServerConfig.from_sources(str(tmp_path / n)) for n in ("c.json", "c.toml"))
    assert a == b and a.generators == settings["generators"] and a.port == 8123
    # A flag adds to the file's names; it is the file's value that must be a list.
    c = ServerConfig.from_sources(str(tmp_path / "c.json"), reward_by_default=["reprover"])
    assert c.reward_by_default == ["retrieval", "reprover"]


def test_values_from_flags_or_the_api_are_checked_the_same_way():
    from leanprogress.serve.config import ConfigError

    with pytest.raises(ConfigError, match=r"'reward_by_default' must be a list of generator names") as exc:
        ServerConfig(generators={"retrieval": {}}, reward_by_default="retrieval")
    assert exc.value.key == "reward_by_default"
    with pytest.raises(ConfigError, match=r"'reward_by_default' must be a list"):
        ServerConfig.from_sources(generators={"retrieval": RETRIEVAL}, reward_by_default="retrieval")
    with pytest.raises(ConfigError, match=r"'max_in_flight' must be an integer \(>= 1\), got the number 2.5"):
        ServerConfig(max_in_flight=2.5)
    with pytest.raises(ConfigError, match=r"^alpha must be in \[0, 1\], got 3"):  # no file to name
        ServerConfig.from_sources(alpha=3.0)


def test_every_setting_has_a_shape():
    from leanprogress.serve.config import FIELD_SHAPES

    assert set(FIELD_SHAPES) == set(ServerConfig.__dataclass_fields__)
