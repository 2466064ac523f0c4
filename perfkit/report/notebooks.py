"""Execute the story's notebooks and export them to HTML (what `perfkit notebooks` does).

Parameters are injected the way papermill does it: a cell tagged `injected-parameters` is
inserted right after the cell tagged `parameters`, so the notebook's own defaults stay
visible and the values that ran are recorded next to them. Notebooks run with nbclient in
their own folder (as Jupyter would run them) and are written as HTML by nbconvert, with the
images embedded and no scripts fetched from a CDN, so the pages open offline.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfkit.types import PerfkitError

if TYPE_CHECKING:  # nbformat is imported where it is used: `import perfkit` must not need it
    from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
KERNEL = "python3"

# The lab template without its CDN scripts (require.js, MathJax, mermaid): our notebooks use
# none of them, and a report that loads nothing opens offline.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def default_notebooks(folder: str | os.PathLike[str] = "notebooks") -> list[Path]:
    """The story's notebooks in `folder`, in order (01_..., 02_..., ...)."""
    paths = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise PerfkitError(f"no notebooks (NN_*.ipynb) in {folder}; run from the repository root or name them")
    return paths


def parse_parameters(items: Iterable[str]) -> dict[str, Any]:
    """`name=value` strings as a dict; values are Python literals (8, "small", [1, 2]) or text."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise PerfkitError(f"parameter {item!r} is not NAME=VALUE (e.g. games=8 or preset=small)")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        out[name.strip()] = value
    return out


def inject_parameters(nb: NotebookNode, parameters: Mapping[str, object]) -> NotebookNode:
    """Insert an `injected-parameters` cell after the `parameters` cell (replacing an old one)."""
    import nbformat

    if not parameters:
        return nb
    cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    source = "# Parameters injected by perfkit notebooks\n" + "".join(
        f"{name} = {value!r}\n" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    where = next(
        (i + 1 for i, c in enumerate(cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), 0
    )
    cells.insert(where, cell)
    nb.cells = cells
    return nb


def execute_notebook(
    nb: NotebookNode, *, cwd: str | os.PathLike[str], timeout_s: int = 900, kernel_name: str = KERNEL
) -> NotebookNode:
    """Run every cell of `nb` in a fresh kernel started in `cwd`; PerfkitError on a failing cell.

    The kernel is `kernel_name`'s spec; a spec whose command is plain `python` runs this
    interpreter (jupyter_client substitutes sys.executable), so a venv's kernel is the venv.
    """
    import tempfile

    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        with tempfile.TemporaryDirectory(prefix="perfkit-kernel-") as sockets:
            # Local IPC sockets rather than unencrypted TCP ports (and no warning about them).
            km = KernelManager(kernel_name=kernel_name, transport="ipc", ip=os.path.join(sockets, "kernel"))
            client = NotebookClient(nb, km=km, timeout=timeout_s, resources={"metadata": {"path": str(cwd)}})
            try:
                client.execute(cleanup_kc=True)  # a client given its manager doesn't stop the kernel itself
            finally:
                if km.has_kernel:
                    km.shutdown_kernel(now=True)
    except CellExecutionError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        raise PerfkitError(f"a cell failed: {lines[-1] if lines else exc}") from None
    except CellTimeoutError:
        raise PerfkitError(f"a cell ran longer than {timeout_s} s; pass smaller parameters") from None
    except DeadKernelError as exc:
        raise PerfkitError(f"the kernel died: {exc}") from None
    return nb


def to_html(nb: NotebookNode) -> str:
    """The notebook as one HTML page: images embedded, no CDN scripts."""
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"perfkit_offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="perfkit_offline.html.j2",
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


def export_notebooks(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    parameters: Mapping[str, object] | None = None,
    execute: bool = True,
    timeout_s: int = 900,
    kernel_name: str = KERNEL,
    on_done: Callable[[Path, Path], None] | None = None,
) -> list[Path]:
    """Execute (optionally) and export each notebook to `out_dir/<name>.html`.

    The executed notebook is saved beside it as `out_dir/<name>.ipynb`. Both files are
    written atomically, after the notebook ran to the end.

    Args:
        paths: .ipynb files.
        out_dir: folder for the outputs (created).
        parameters: values for the notebooks' `parameters` cell (e.g. {"preset": "tiny"}).
        execute: False exports the notebooks as they are (committed without outputs).
        timeout_s: the longest one cell may run.
        on_done: called with (notebook path, html path) after each notebook.

    Returns:
        The HTML files written, in order.
    """
    import nbformat

    from perfkit.report.html import write_page

    out = Path(out_dir)
    written = []
    for path in map(Path, paths):
        try:
            nb = nbformat.read(path, as_version=4)
        except FileNotFoundError:
            raise PerfkitError(f"notebook {path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise PerfkitError(f"cannot read notebook {path}: {str(exc).splitlines()[0]}") from None
        if (out / f"{path.stem}.ipynb").resolve() == path.resolve():
            raise PerfkitError(f"{out} is the notebooks' own folder: the executed copy would overwrite {path}")
        inject_parameters(nb, parameters or {})
        if execute:
            try:
                execute_notebook(nb, cwd=path.resolve().parent, timeout_s=timeout_s, kernel_name=kernel_name)
            except PerfkitError as exc:
                raise PerfkitError(f"{path.name}: {exc}") from None
        html = write_page(out / f"{path.stem}.html", to_html(nb))
        write_page(out / f"{path.stem}.ipynb", nbformat.writes(nb))
        written.append(html)
        if on_done is not None:
            on_done(path, html)
    return written
