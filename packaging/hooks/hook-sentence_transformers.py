# A sentence-transformers model names its modules by dotted path in modules.json
# ("sentence_transformers.models.Transformer"), imported at load time.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("sentence_transformers", filter=lambda name: ".backend" not in name or "load" in name)
datas = copy_metadata("sentence_transformers")
