"""The Docker image cannot be built here (no Docker engine), so its files are checked instead:
everything the Dockerfile copies and runs exists, its set-up is the script the README gives ROS
users, the scripts are valid shell, and the compose services launch files that exist."""
import re
import shlex
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / 'docker' / 'Dockerfile'


def instructions():
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r'\\\n', ' ', DOCKERFILE.read_text())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            word, _, rest = line.partition(' ')
            yield word.upper(), rest.strip()


def test_everything_the_dockerfile_copies_exists():
    copies = [rest.split() for word, rest in instructions() if word == 'COPY']
    assert copies
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f'COPY {source}: not in the repository'


def test_the_image_sets_up_with_the_script_ros_users_run_and_it_is_valid_shell():
    runs = ' '.join(rest for word, rest in instructions() if word == 'RUN')
    assert 'scripts/setup_ros' in runs
    readme = (ROOT / 'README.md').read_text()
    assert 'scripts/setup_ros' in readme
    for script in ('scripts/setup_ros', 'scripts/setup', 'scripts/test', 'scripts/train_sim',
                   'docker/entrypoint.sh'):
        path = ROOT / script
        assert path.stat().st_mode & 0o111, f'{script} is not executable'
        result = subprocess.run(['bash', '-n', str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f'{script}: {result.stderr}'
    entrypoint = next(rest for word, rest in instructions() if word == 'ENTRYPOINT')
    assert '/entrypoint.sh' in entrypoint


def test_compose_services_build_this_dockerfile_and_launch_files_that_exist():
    compose = yaml.safe_load((ROOT / 'docker' / 'compose.yaml').read_text())
    launch_files = {p.name for p in (ROOT / 'launch').glob('*.launch.py')}
    assert compose['services']
    for name, service in compose['services'].items():
        if 'extends' in service:  # inherits the build and command of another service
            assert service['extends'] in compose['services'], name
            continue
        build = service.get('build')
        if build:
            assert (ROOT / 'docker' / build['context'] / build['dockerfile']).resolve() == \
                DOCKERFILE.resolve(), name
        words = shlex.split(service['command'])
        assert words[:3] == ['ros2', 'launch', 'hilserl_bringup'], name
        assert words[3] in launch_files, f'{name}: {words[3]} is not in launch/'
    default = next(rest for word, rest in instructions() if word == 'CMD')
    assert any(f'"{f}"' in default for f in launch_files)
