"""projects/example_project/README.md's commands, verbatim, on a miniature world."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'projects' / 'example_project' / 'README.md'
sys.path.insert(0, str(ROOT / 'tests'))
from test_docs import run_shell  # noqa: E402

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)


def test_readme_commands_train_and_evaluate_the_thermal_view(tmp_path, free_port):
    commands = re.findall(r'```bash\n(.*?)```', README.read_text(), re.S)
    assert len(commands) == 2 and all('thermal_uav.py' in c for c in commands)
    # the checkout's layout under tmp_path, so work_dirs/ is written there
    for name in ('tools', 'configs', 'gleamkit', 'projects'):
        (tmp_path / name).symlink_to(ROOT / name)
    # the shell runs `python` as this interpreter, with the miniature-world options
    out = run_shell(
        '\n'.join(commands).replace('.venv/bin/python', 'python'),
        tmp_path,
        'example_project README',
        free_port,
    )
    work = tmp_path / 'work_dirs' / 'thermal_uav'
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')  # 1 epoch
    metrics = json.loads((work / 'test_metrics.json').read_text())
    # every test query is a thermal one
    assert metrics['retrieval/thermal/num_queries'] == metrics['retrieval/num_queries'] > 0
    assert 0 <= metrics['retrieval/thermal/R@1'] <= 100
    assert '| thermal |' in out.stdout + out.stderr
    # two processes count every query once and agree with one process
    dist = json.loads(
        (tmp_path / 'work_dirs' / 'thermal_uav_dist' / 'test_metrics.json').read_text()
    )
    assert dist.keys() == metrics.keys()
    for key in metrics:
        assert dist[key] == pytest.approx(metrics[key], abs=1e-6), key
