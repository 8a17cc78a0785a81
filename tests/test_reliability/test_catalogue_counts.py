"""docs/reliability.md and the README state the fault catalogue's counts:
they must equal the cases marked ``survived`` / ``clear_error`` in the
tests (collected, not run, in a subprocess)."""
import re
import subprocess
import sys

from tests.tools_runner import REPO

COUNT = '''
import sys, pytest
class Count:
    def __init__(self):
        self.counts = {'survived': 0, 'clear_error': 0}
    def pytest_collection_modifyitems(self, items):
        for item in items:
            for name in self.counts:
                if item.get_closest_marker(name):
                    self.counts[name] += 1
count = Count()
pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests'],
            plugins=[count])
print('COUNTS', count.counts['survived'], count.counts['clear_error'])
'''


def collected_counts():
    out = subprocess.run([sys.executable, '-c', COUNT], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=300).stdout
    found = re.search(r'^COUNTS (\d+) (\d+)$', out, flags=re.M)
    assert found, out[-3000:]
    return int(found.group(1)), int(found.group(2))


def test_documented_counts_match_the_marked_cases():
    survived, clear = collected_counts()
    assert survived > 0 and clear > 0
    doc = open(f'{REPO}/docs/reliability.md', encoding='utf-8').read()
    assert f'| survived, nothing lost | **{survived}** |' in doc
    assert f'| stopped with one clear line | **{clear}** |' in doc
    assert f'| total | **{survived + clear}** |' in doc
    readme = open(f'{REPO}/README.md', encoding='utf-8').read()
    assert (f'{survived + clear} faults ({survived} survived, {clear} '
            'stopped with one clear line, 0 known remaining)') in readme
