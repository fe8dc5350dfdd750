# trafilatura reads settings.cfg and its data files; justext and htmldate ship stop lists/data.
from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("trafilatura") + collect_data_files("justext") + collect_data_files("htmldate") + collect_data_files("courlan")
