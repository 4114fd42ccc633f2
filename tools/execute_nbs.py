"""Execute notebooks top to bottom the way the notebook tests do, and keep their outputs in the notebooks.

    python tools/execute_nbs.py [NOTEBOOK ...] [--flags slow gpu]      (default: every nbs/*.ipynb, index included)

Each notebook runs in execnb's `CaptureShell` after nbdev's processing (`NBProcessor` + `FrontmatterProc`), as
nbdev's `test_nb` runs it in `tests/test_notebooks.py`: cells flagged with settings.ini's `tst_flags`
(`#| slow`, `#| gpu`) are skipped unless named in `--flags`, as are `#| eval: false` cells and `nbdev_export()`.
Every executed code cell gets the outputs it produced now; a skipped cell keeps none. The notebook is then cleaned
as `nbdev_clean` cleans it (settings.ini `clear_all = False`, so outputs stay) and written back in place; the docs
site (tools/build_docs.py) renders these kept outputs without executing anything.

Figures are stored small (plain PNG at 72 dpi, not retina); warnings are silenced and tqdm bars switched off in
the kernel, and outputs that still show a warning, a traceback or a path of this machine (`nbtools.NOISE`) stop the
notebook from being written. A failing cell leaves its notebook unchanged and the tool exits with status 1.
"""
import os

os.environ.setdefault('TQDM_DISABLE', '1')  # read by tqdm when it is imported: set before anything imports it
os.environ.setdefault('MPLBACKEND', 'agg')   # no GUI backend; the shell switches to the inline backend itself

import argparse  # noqa: E402
import base64  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from nbtools import NOISE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIG_DPI = 72

# Run in the kernel before the notebook's first cell (not stored in the notebook).
# TQDM_DISABLE only changes tqdm's default: bars created with `disable=False` (e.g. `disable=not progress`) are
# switched off here too.
PRELUDE = f"""
import warnings as _w; _w.filterwarnings('ignore')
import matplotlib as _mpl
_mpl.rcParams['figure.dpi'] = {FIG_DPI}; _mpl.rcParams['savefig.dpi'] = {FIG_DPI}
import tqdm.std as _tq
if not getattr(_tq.tqdm, '_kept_quiet', False):
    _tq_init = _tq.tqdm.__init__
    def _tq_quiet(self, *a, **k):
        k['disable'] = True
        _tq_init(self, *a, **k)
    _tq.tqdm.__init__, _tq.tqdm._kept_quiet = _tq_quiet, True
    del _tq_quiet
del _w, _mpl, _tq
"""


def _config():
    from nbdev.config import get_config
    return get_config(path=ROOT)


def image_bytes(outputs) -> int:
    "Bytes of the images (PNG/JPEG decoded from base64, SVG as text) in a cell's `outputs`."
    n = 0
    for o in outputs:
        for mime, v in (o.get('data') or {}).items():
            if not mime.startswith('image/'): continue
            v = ''.join(v) if isinstance(v, list) else v
            n += len(v.encode()) if 'svg' in mime else len(base64.b64decode(v))
    return n


def output_texts(outputs):
    "The text of `outputs` (streams, text/* data, error tracebacks), as a reader of the rendered page sees it."
    for o in outputs:
        if 'text' in o: yield ''.join(o['text'])
        for mime, v in (o.get('data') or {}).items():
            if mime.startswith('text/') or mime.endswith('json'): yield ''.join(v) if isinstance(v, list) else str(v)
        if o.get('output_type') == 'error': yield 'Traceback (most recent call last)\n' + '\n'.join(o.get('traceback', []))


def noise(nb, paths=()) -> list[str]:
    "Warnings, tracebacks and machine paths (`NOISE`, and each of `paths`) in the code cells' outputs of `nb`."
    found = []
    for i, cell in enumerate(nb['cells']):
        for text in output_texts(cell.get('outputs', [])):
            for pat in NOISE + [re.escape(str(p)) for p in paths]:
                if m := re.search(pat, text):
                    found.append(f"cell {i}: {text[max(0, m.start() - 80):m.end() + 80]!r}")
    return found


def execute(path, force_flags=()):
    """Execute notebook `path` like `nbdev.test.test_nb`; return (notebook with the new outputs, seconds), or
    (None, 0) where nbdev would not run it (frontmatter `skip_exec`, not Python). Raises where a cell fails."""
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    from fastcore.basics import str2bool
    from fastcore.xtras import working_directory
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor, nb_lang

    path = Path(path).resolve()
    if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))  # test_nb's `basepath`
    os.environ['IN_TEST'] = '1'                                  # as test_nb sets it outside a notebook
    flags = set(_config().get('tst_flags', '').split()) - set(force_flags)
    nb = read_nb(path)                                                   # what is written back
    run = NBProcessor(path, procs=FrontmatterProc, process=True).nb      # what runs: directives parsed and stripped
    if str2bool(getattr(run, 'frontmatter_', {}).get('skip_exec', False)) or nb_lang(run) != 'python': return None, 0
    kept, ran = [c for c in nb.cells if c.cell_type == 'code'], [c for c in run.cells if c.cell_type == 'code']
    assert len(kept) == len(ran), f'{path.name}: nbdev processing changed the number of code cells'
    for c in ran: c.outputs = []  # CaptureShell stores outputs only for cells that print something

    def no_eval(cell):  # nbdev.test.test_nb's `_no_eval`
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        direc = getattr(cell, 'directives_', {}) or {}
        if direc.get('eval:', [''])[0].lower() == 'false': return True
        return flags & direc.keys()

    start = time.time()
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore')
        k = CaptureShell(path, mpl_format='png')  # png, not execnb's default retina: a quarter of the bytes
        k.run(PRELUDE)
        if k.exc: raise RuntimeError(f'the prelude failed: {k.exc!r}')
        try:
            with working_directory(path.parent): k.run_all(run, exc_stop=True, preproc=no_eval)
        except (Exception, SystemExit) as e:  # a cell's exception, re-raised by run_all (argparse errors exit)
            raise RuntimeError(k.prettytb(fname=path)) from e
    for c, r in zip(kept, ran):
        c.outputs, c.execution_count = list(r.get('outputs', [])), None
    return nb, time.time() - start


def clean(nb):
    "Clean `nb` in memory as `nbdev_clean` does (settings.ini's `clear_all`, metadata keys and `clean_ids`)."
    from nbdev.clean import clean_nb
    cfg = _config()
    clean_nb(nb, cfg.clear_all, cfg.get('allowed_metadata_keys', '').split(),
             cfg.get('allowed_cell_metadata_keys', '').split(), cfg.clean_ids)
    return nb


def keep_outputs(path, force_flags=()) -> dict:
    "Execute `path` and write it back with its outputs; a failure raises and leaves the file as it was."
    from execnb.nbio import nb2str
    path = Path(path).resolve()
    nb, secs = execute(path, force_flags)
    if nb is None: return dict(name=path.name, secs=0, images=0, image_bytes=0, changed=False, skipped=True)
    clean(nb)
    assert not _config().clear_all, 'settings.ini has clear_all = True: nbdev_clean would strip the outputs kept here'
    if found := noise(nb, paths={ROOT, path.parent, Path.home()} - {Path('/')}):
        raise RuntimeError(f'{path.name}: outputs show warnings, tracebacks or paths of this machine '
                           '(print relative paths, silence the warning in the code):\n' + '\n'.join(found[:10]))
    text, old = nb2str(nb), path.read_text(encoding='utf-8')
    if text != old:
        tmp = path.with_name(f'.{path.name}.tmp')
        tmp.write_text(text, encoding='utf-8')
        os.replace(tmp, path)
    outs = [c.get('outputs', []) for c in nb.cells if c.cell_type == 'code']
    return dict(name=path.name, secs=secs, skipped=False, changed=text != old,
                images=sum(1 for os_ in outs for o in os_ if any(m.startswith('image/') for m in o.get('data', {}))),
                image_bytes=sum(image_bytes(o) for o in outs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='notebooks to execute (default: every nbs/*.ipynb)')
    ap.add_argument('--flags', nargs='*', default=[], help="flags of cells to run too (e.g. slow gpu); their outputs are kept")
    a = ap.parse_args(argv)
    nbs = [Path(p) for p in a.notebooks] or sorted((ROOT / 'nbs').glob('*.ipynb'))
    failed, total = [], 0
    for nb in nbs:
        try:
            r = keep_outputs(nb, a.flags)
        except Exception as e:
            failed.append(nb.name)
            print(f'FAILED {nb.name} (left unchanged):\n{e}', file=sys.stderr, flush=True)
            continue
        total += r['image_bytes']
        state = 'not executed (skip_exec)' if r['skipped'] else ('written' if r['changed'] else 'unchanged')
        print(f"{r['name']:28s} {r['secs']:6.1f} s  {r['images']:3d} images {r['image_bytes'] / 1024:7.1f} KiB  {state}", flush=True)
    print(f'image outputs in all: {total / 1024:.1f} KiB')
    if failed: print(f"failed: {' '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
