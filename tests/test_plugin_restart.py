"""The plugin as a real process across restarts: SIGTERM, a corrupt checkpoint, a reboot.

Same setup as ``test_plugin_crash`` (real ``dra plugin run`` process, stand-in API server,
built-in profile in dynamic-MIG mode); one process lifecycle per step of a single scenario,
because each start of the process costs seconds.
"""

from __future__ import annotations

from test_plugin_crash import PluginProcess, _mig, api  # noqa: F401 - the fixture is shared


def test_sigterm_then_corrupt_checkpoint_then_reboot(tmp_path, api):  # noqa: F811
    plugin = PluginProcess(tmp_path, api)
    kubelet = plugin.start()
    ref = _mig(api, "keep", "keep", 2)
    try:
        assert kubelet.prepare([ref])[ref[2]].error == ""
        kubelet.close()

        # SIGTERM: clean exit, sockets removed, checkpoint kept.
        assert plugin.stop() == 0
        assert not list((tmp_path / "registry").glob("*.sock"))
        assert not (plugin.state_dir / "dra.sock").exists()
        assert plugin.checkpoint()[ref[2]]["state"] == "PrepareCompleted"

        # A torn checkpoint: moved aside, rebuilt from the CDI spec, the plugin serves on.
        ck_path = plugin.state_dir / "checkpoint.json"
        ck_path.write_bytes(ck_path.read_bytes()[:40])
        kubelet = plugin.start()
        quarantined = list(plugin.state_dir.glob("checkpoint.json.corrupt-*"))
        assert len(quarantined) == 1
        assert plugin.checkpoint()[ref[2]]["state"] == "PrepareCompleted"
        assert len(plugin.mig_instances()) == 1
        log = plugin.log.read_text()
        assert "checkpoint unreadable" in log and str(quarantined[0]) in log
        again = kubelet.prepare([ref])[ref[2]]
        assert again.error == "" and again.devices[0].device_name.startswith("gpu-0-mig-1g")
        kubelet.close()
        assert plugin.stop() == 0

        # Another boot: the checkpoint, the CDI specs and the MIG instances are all stale.
        kubelet = plugin.start(boot_id="boot-2")
        assert plugin.checkpoint() == {} and plugin.cdi_files() == [] and plugin.mig_instances() == []
        assert kubelet.unprepare([ref]) == {ref[2]: ""}
    finally:
        kubelet.close()
        plugin.stop()
