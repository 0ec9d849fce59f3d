"""projects/example_project/README.md's commands, verbatim, on a miniature world."""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'projects' / 'example_project' / 'README.md'
sys.path.insert(0, str(ROOT / 'tests'))
from test_docs import run_shell  # noqa: E402


def test_readme_commands_train_and_evaluate_the_thermal_view(tmp_path, free_port):
    commands = re.findall(r'```bash\n(.*?)```', README.read_text(), re.S)
    assert len(commands) == 1 and 'thermal_uav.py' in commands[0]
    # the checkout's layout under tmp_path, so work_dirs/ is written there
    for name in ('tools', 'configs', 'gleamkit', 'projects'):
        (tmp_path / name).symlink_to(ROOT / name)
    # the shell runs `python` as this interpreter, with the miniature-world options
    out = run_shell(commands[0].replace('.venv/bin/python', 'python'), tmp_path,
                    'example_project README', free_port)
    work = tmp_path / 'work_dirs' / 'thermal_uav'
    assert (work / 'epoch_1.pth').is_file()  # TINY: one epoch
    metrics = json.loads((work / 'test_metrics.json').read_text())
    # every test query is a thermal one: 48 places, the test strip of them, 1 view
    assert metrics['retrieval/thermal/num_queries'] == metrics['retrieval/num_queries'] > 0
    assert 0 <= metrics['retrieval/thermal/R@1'] <= 100
    assert '| thermal |' in out.stdout + out.stderr
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
