"""The wheel (`scripts/build_wheel.sh`) installs into a fresh venv and passes Gymnasium's checker
there, on a walking and a question scenario, with no source tree on the path."""

import os
import pathlib
import subprocess
import sys
import textwrap

REPO = pathlib.Path(__file__).resolve().parents[3]

CHECK = textwrap.dedent(
    """
    import pathlib, sys
    import gymnasium
    from gymnasium.utils.env_checker import check_env
    import sandtable
    where = pathlib.Path(sandtable.__file__).resolve()
    assert pathlib.Path(sys.prefix).resolve() in where.parents, f"sandtable came from {where}"
    for scenario in ("go_to_object", "count_objects"):
        env = gymnasium.make(sandtable.env_id(scenario), size=32)
        check_env(env.unwrapped)
        _, info = env.reset(seed=1)
        if info["answer"] is not None:
            _, _, terminated, _, info = env.step(info["answer"])
            assert terminated and info["success"]
        env.close()
    print("checked", where)
    """
)


def test_the_wheel_installs_into_a_fresh_venv_and_passes_check_env(tmp_path):
    built = subprocess.run(["bash", "scripts/build_wheel.sh"], cwd=REPO, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = REPO / built.stdout.strip().splitlines()[-1]
    assert wheel.name.endswith("-cp39-abi3-linux_x86_64.whl") and wheel.is_file()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Outside the source tree, and without the development install's path file.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel), "gymnasium==1.4.0"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    run = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "checked" in run.stdout
