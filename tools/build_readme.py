"""Generate README.md from nbs/index.ipynb (Quarto's `nbdev_readme` is not available offline).

`python tools/build_readme.py` rewrites README.md; `--check` exits 1 when README.md is stale.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nbtools import readme_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='exit 1 if the README is stale instead of writing it')
    ap.add_argument('--readme', default=str(ROOT / 'README.md'), help='README file to write or check')
    a = ap.parse_args(argv)
    text = readme_text(ROOT / 'nbs' / 'index.ipynb')
    readme = Path(a.readme)
    if a.check:
        if readme.read_text(encoding='utf-8') != text:
            print('README.md is stale: run `make readme` (it is generated from nbs/index.ipynb)')
            return 1
        print('README.md is up to date')
        return 0
    readme.write_text(text, encoding='utf-8')
    print(f'wrote {readme}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
