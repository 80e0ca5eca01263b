# The project's Jupyter server settings: `lth lab` (or JUPYTER_CONFIG_PATH=jupyter jupyter lab,
# from the repository root) reads them.  A notebook under notebooks/ is saved without outputs,
# execution counts or the metadata a kernel adds, so exploring never dirties the tracked pair.
c = get_config()  # noqa: F821
c.FileContentsManager.pre_save_hook = "lthlib.report.lab.strip_before_save"
# ... and opens with its kernel's language_info, so that starting the kernel does not mark it modified
c.ServerApp.jpserver_extensions = {"lthlib.report.lab": True}
