"""README.md's first usage block ("Then, in `.venv` ...") names what the
config it trains needs before it runs: the data folder and the teacher
checkpoint. Both must be the paths the config resolves to (loaded with
mmengine, as tools/train.py loads it), and the page it links must explain
them, so the README cannot drift from the configs."""
import os.path as osp
import re

from mmengine.config import Config

from tests.tools_runner import REPO

README = osp.join(REPO, 'README.md')
#: The block: its lead-in paragraph and its ```bash body.
BLOCK = re.compile(r'^(Then, in `\.venv`.*?)\n\n```bash\n(.*?)^```$',
                   re.M | re.S)


def first_block():
    """``(lead-in paragraph, bash body)`` of the README's first block."""
    text = open(README, encoding='utf-8').read()
    match = BLOCK.search(text)
    assert match, f'{README}: no "Then, in `.venv`" block with a bash body'
    return match.group(1), match.group(2)


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading: lower case, punctuation
    other than ``-`` dropped, spaces made ``-``."""
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def test_block_names_the_data_and_teacher_its_config_resolves_to():
    lead, body = first_block()
    configs = re.findall(r'python tools/(?:train|test)\.py\s+(\S+)', body)
    assert len(configs) == 2 and configs[0] == configs[1], configs
    cfg = Config.fromfile(osp.join(REPO, configs[0]))

    data = re.findall(r'`(data/[^`]+)`', lead)
    assert len(data) == 1, f'the lead-in names no data folder: {lead!r}'
    for split in ('train', 'val', 'test'):
        root = cfg[f'{split}_dataloader'].dataset.data_root
        assert data[0].rstrip('/') == root.rstrip('/'), (split, root)

    ckpts = re.findall(r'`([^`\s]+\.pth)`', lead)
    assert ckpts == [cfg.model.teacher_ckpt], (ckpts, cfg.model.teacher_ckpt)


def test_block_tests_the_checkpoint_its_training_writes():
    """The test line's checkpoint is the train line's last epoch in its
    default work dir (``work_dirs/<config name>``)."""
    _, body = first_block()
    config = re.search(r'python tools/train\.py\s+(\S+)', body).group(1)
    cfg = Config.fromfile(osp.join(REPO, config))
    name = osp.splitext(osp.basename(config))[0]
    wanted = f'work_dirs/{name}/epoch_{cfg.train_cfg.max_epochs}.pth'
    assert re.search(r'\\\n\s+(\S+\.pth)', body).group(1) == wanted


def test_block_links_a_section_that_says_how():
    lead, _ = first_block()
    links = re.findall(r'\]\((docs/[\w.]+\.md)#([\w-]+)\)', lead)
    assert len(links) == 1, f'the lead-in links no docs section: {lead!r}'
    page, anchor = links[0]
    text = open(osp.join(REPO, page), encoding='utf-8').read()
    sections = re.split(r'^#+ ', text, flags=re.M)[1:]
    found = [s for s in sections
             if github_anchor(s.splitlines()[0]) == anchor]
    assert found, f'{page} has no heading with the anchor #{anchor}'
    # the section says where the data goes and how the teacher is made
    data = re.search(r'`(data/[^`]+)`', lead).group(1)
    assert f'`{data}`' in found[0]
    assert 'configs/cifar100/classifiers/' in found[0]
    assert 'teacher_ckpt' in found[0]
