# Chroma picks its API, telemetry, segment and embedding implementations by dotted name at run
# time (chromadb.config), so static analysis misses them: take every submodule. Its metadata is
# read by importlib.metadata for the version.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules("chromadb", filter=lambda name: ".test" not in name)
datas = collect_data_files("chromadb", excludes=["**/test/**", "**/tests/**"]) + copy_metadata("chromadb")
