// SPDX-License-Identifier: GPL-2.0
/*
 * The embedded interpreter: its one start, with an isolated configuration
 * (no environment variables, no user site, no signal handlers: signals
 * stay jazzd's), the built-in module `jazz`, and Python's output and
 * exceptions in the daemon log (sys.stdout and sys.stderr write complete
 * lines). Must not call events.py's callbacks (python.c does).
 */
#include "python_int.h"

PyObject *g_load;	/* bootstrap load(path, name) */
static PyObject *g_format_exc;	/* traceback.format_exception */
PyObject *g_timeout_exc;	/* jazz.CallbackTimeout */
PyObject *g_out_parts, *g_err_parts;	/* writers' partial lines */
PyObject *g_flush;	/* bootstrap flush_thread() */

/* ---- logging --------------------------------------------------------- */

/* One daemon log line per line of text. */
static void log_lines(int level, const char *what, const char *text)
{
	const char *p = text;

	do {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (what)
			jz_log(level, "python: %s: %.*s", what, len, p);
		else
			jz_log(level, "python: %.*s", len, p);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
}

void jz_py_log(int level, const char *what, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_lines(level, what, buf);
}

/*
 * Logs the pending exception with its whole traceback, one line each, and
 * clears it. If summary is given it gets "Type: message" (for err).
 */
void log_exception_skip(const char *what, char *summary, size_t sumlen,
			int skip)
{
	PyObject *t, *v, *tb, *lines = NULL;

	PyErr_Fetch(&t, &v, &tb);
	if (!t)
		return;
	PyErr_NormalizeException(&t, &v, &tb);
	/* frames of our own loader say nothing to the script's author */
	while (skip-- > 0 && tb) {
		PyObject *next = PyObject_GetAttrString(tb, "tb_next");

		Py_DECREF(tb);
		tb = next == Py_None ? (Py_DECREF(next), NULL) : next;
		PyErr_Clear();
	}
	if (tb && v)
		PyException_SetTraceback(v, tb);
	if (summary) {
		PyObject *s = v ? PyObject_Str(v) : NULL;
		const char *m = s ? PyUnicode_AsUTF8(s) : NULL;

		snprintf(summary, sumlen, "%s%s%s", ((PyTypeObject *)t)->tp_name,
			 m && *m ? ": " : "", m ? m : "");
		Py_XDECREF(s);
		PyErr_Clear();
	}
	if (t == g_timeout_exc)
		jz_py_log(LOG_ERR, what, "interrupted: ran past its time limit");
	if (g_format_exc)
		lines = PyObject_CallFunctionObjArgs(g_format_exc, t, v ? v : Py_None,
						     tb ? tb : Py_None, NULL);
	if (lines && PyList_Check(lines)) {
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
			const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));

			if (s)
				log_lines(LOG_ERR, what, s);
			else
				PyErr_Clear();
		}
	} else {
		PyErr_Clear();
		jz_py_log(LOG_ERR, what, "exception %s (no traceback)",
			  ((PyTypeObject *)t)->tp_name);
	}
	Py_XDECREF(lines);
	Py_XDECREF(t);
	Py_XDECREF(v);
	Py_XDECREF(tb);
}

void log_exception(const char *what, char *summary, size_t sumlen)
{
	log_exception_skip(what, summary, sumlen, 0);
}

/* ---- the `jazz` module ----------------------------------------------- */

static PyObject *jazz_log_level(int level, PyObject *msg)
{
	PyObject *s = PyUnicode_Check(msg) ? (Py_INCREF(msg), msg) : PyObject_Str(msg);
	const char *u;

	if (!s)
		return NULL;
	u = PyUnicode_AsUTF8(s);
	if (!u) {
		/* lone surrogates (undecodable bytes): log them escaped */
		PyObject *b;

		PyErr_Clear();
		b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
		Py_DECREF(s);
		if (!b)
			return NULL;
		log_lines(level, NULL, PyBytes_AS_STRING(b));
		Py_DECREF(b);
		Py_RETURN_NONE;
	}
	log_lines(level, NULL, u);
	Py_DECREF(s);
	Py_RETURN_NONE;
}

static PyObject *jazz_log(PyObject *self, PyObject *args)
{
	int level;
	PyObject *msg;

	if (!PyArg_ParseTuple(args, "iO:log", &level, &msg))
		return NULL;
	if (level < LOG_EMERG || level > LOG_DEBUG) {
		PyErr_Format(PyExc_ValueError, "log level %d: use jazz.LOG_DEBUG, "
			     "LOG_INFO, LOG_WARNING or LOG_ERROR", level);
		return NULL;
	}
	return jazz_log_level(level, msg);
}

#define LEVEL_FN(fname, lvl) \
	static PyObject *jazz_##fname(PyObject *self, PyObject *msg) \
	{ return jazz_log_level(lvl, msg); }
LEVEL_FN(debug, LOG_DEBUG)
LEVEL_FN(info, LOG_INFO)
LEVEL_FN(warning, LOG_WARNING)
LEVEL_FN(error, LOG_ERR)

static PyObject *jazz_prompt(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "code", "text", "secret", NULL };
	PyObject *code, *text;
	int secret = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "UU|p:prompt", kwlist, &code, &text,
					 &secret))
		return NULL;
	return Py_BuildValue("{s:O,s:O,s:O}", "code", code, "text", text, "secret",
			     secret ? Py_True : Py_False);
}

static PyMethodDef jazz_methods[] = {
	{ "log", jazz_log, METH_VARARGS,
	  "log(level, message): write message (str() of it) to the jazzd log.\n"
	  "level is jazz.LOG_DEBUG, LOG_INFO, LOG_WARNING or LOG_ERROR; a message\n"
	  "with several lines gives several log lines." },
	{ "debug", jazz_debug, METH_O, "debug(message): log(LOG_DEBUG, message)" },
	{ "info", jazz_info, METH_O, "info(message): log(LOG_INFO, message)" },
	{ "warning", jazz_warning, METH_O, "warning(message): log(LOG_WARNING, message)" },
	{ "error", jazz_error, METH_O, "error(message): log(LOG_ERROR, message)" },
	{ "prompt", (PyCFunction)(void (*)(void))jazz_prompt, METH_VARARGS | METH_KEYWORDS,
	  "prompt(code, text, secret=False) -> dict\n"
	  "A prompt for validate_user's MORE_DATA answer: the client asks the\n"
	  "person `text` and sends the answer back in other_data under `code`;\n"
	  "secret=True: the answer is not echoed." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef jazz_moddef = {
	PyModuleDef_HEAD_INIT, "jazz",
	"jazzd's services for events.py: logging, validate_user status codes,\n"
	"prompts. See docs/CALLBACKS.md.",
	-1, jazz_methods, NULL, NULL, NULL, NULL,
};

static PyObject *PyInit_jazz(void)
{
	PyObject *m = PyModule_Create(&jazz_moddef);
	PyObject *exc;

	if (!m)
		return NULL;
	if (PyModule_AddIntConstant(m, "LOG_DEBUG", JAZZ_LOG_DEBUG) ||
	    PyModule_AddIntConstant(m, "LOG_INFO", JAZZ_LOG_INFO) ||
	    PyModule_AddIntConstant(m, "LOG_WARNING", JAZZ_LOG_WARNING) ||
	    PyModule_AddIntConstant(m, "LOG_ERROR", JAZZ_LOG_ERROR) ||
	    PyModule_AddIntConstant(m, "VALIDATE_USER_STATUS_ACCEPTED",
				    JAZZ_VALIDATE_USER_STATUS_ACCEPTED) ||
	    PyModule_AddIntConstant(m, "VALIDATE_USER_STATUS_REJECTED",
				    JAZZ_VALIDATE_USER_STATUS_REJECTED) ||
	    PyModule_AddIntConstant(m, "VALIDATE_USER_STATUS_MORE_DATA",
				    JAZZ_VALIDATE_USER_STATUS_MORE_DATA) ||
	    PyModule_AddIntConstant(m, "ABI_VERSION", JAZZ_EVENTS_ABI_VERSION))
		goto fail;
	/* A BaseException, like KeyboardInterrupt: `except Exception` in a
	 * runaway loop does not swallow it. */
	exc = PyErr_NewExceptionWithDoc("jazz.CallbackTimeout",
		"Raised inside a callback that ran past [callbacks] timeout_ms; its\n"
		"answer is already discarded (jazzd used the fail-closed one).",
		PyExc_BaseException, NULL);
	if (!exc || PyModule_AddObject(m, "CallbackTimeout", exc)) {
		Py_XDECREF(exc);
		goto fail;
	}
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}

/* ---- interpreter start ------------------------------------------------ */

/* Runs once with the GIL: stdout/stderr writers and the loader. */
static const char bootstrap_src[] =
"import _thread, importlib.machinery, importlib.util, io, linecache, os, sys\n"
"import jazz\n"
"\n"
"class LogWriter(io.TextIOBase):\n"
"    \"\"\"sys.stdout/sys.stderr of events.py: each complete line goes to\n"
"    the jazzd log (partial lines wait for their newline, per thread).\"\"\"\n"
"    def __init__(self, name, level, prefix):\n"
"        super().__init__()\n"
"        self._name, self._level, self._prefix = name, level, prefix\n"
"        self.parts = {}\n"
"    name = property(lambda self: self._name)\n"
"    encoding = property(lambda self: 'utf-8')\n"
"    errors = property(lambda self: 'backslashreplace')\n"
"    def writable(self):\n"
"        return True\n"
"    def isatty(self):\n"
"        return False\n"
"    def write(self, s):\n"
"        if not isinstance(s, str):\n"
"            raise TypeError('write() argument must be str, not '\n"
"                            + type(s).__name__)\n"
"        tid = _thread.get_ident()\n"
"        lines = (self.parts.pop(tid, '') + s).split('\\n')\n"
"        tail = lines.pop()\n"
"        for line in lines:\n"
"            jazz.log(self._level, self._prefix + line)\n"
"        if tail:\n"
"            self.parts[tid] = tail\n"
"        return len(s)\n"
"    def flush(self):\n"
"        tail = self.parts.pop(_thread.get_ident(), None)\n"
"        if tail is not None:\n"
"            jazz.log(self._level, self._prefix + tail)\n"
"\n"
"sys.stdout = LogWriter('<jazzd log>', jazz.LOG_INFO, '')\n"
"sys.stderr = LogWriter('<jazzd log>', jazz.LOG_WARNING, 'stderr: ')\n"
"out_parts, err_parts = sys.stdout.parts, sys.stderr.parts\n"
"\n"
"def flush_thread():\n"
"    sys.stdout.flush()\n"
"    sys.stderr.flush()\n"
"\n"
"def load(path, name):\n"
"    path = os.path.abspath(path)\n"
"    loader = importlib.machinery.SourceFileLoader(name, path)\n"
"    spec = importlib.util.spec_from_file_location(name, path, loader=loader)\n"
"    with open(path, 'rb') as f:\n"
"        source = f.read()\n"
"    # compiled here, never from a __pycache__ that may be stale\n"
"    code = compile(source, path, 'exec', dont_inherit=True)\n"
"    mod = importlib.util.module_from_spec(spec)\n"
"    d = os.path.dirname(path)\n"
"    if d not in sys.path:\n"
"        sys.path.insert(0, d)\n"
"    linecache.checkcache(path)\n"
"    old = sys.modules.get(name)\n"
"    sys.modules[name] = mod\n"
"    try:\n"
"        exec(code, mod.__dict__)\n"
"    except BaseException:\n"
"        if old is None:\n"
"            sys.modules.pop(name, None)\n"
"        else:\n"
"            sys.modules[name] = old\n"
"        raise\n"
"    return mod\n";

static int run_bootstrap(char *err, size_t errlen)
{
	PyObject *g, *r, *tb;

	g = PyDict_New();
	if (!g || PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()))
		goto fail;
	r = PyRun_String(bootstrap_src, Py_file_input, g, g);
	if (!r)
		goto fail;
	Py_DECREF(r);
	g_load = PyDict_GetItemString(g, "load");
	g_flush = PyDict_GetItemString(g, "flush_thread");
	g_out_parts = PyDict_GetItemString(g, "out_parts");
	g_err_parts = PyDict_GetItemString(g, "err_parts");
	if (!g_load || !g_flush || !g_out_parts || !g_err_parts)
		goto fail;
	Py_INCREF(g_load);
	Py_INCREF(g_flush);
	Py_INCREF(g_out_parts);
	Py_INCREF(g_err_parts);
	tb = PyImport_ImportModule("traceback");
	if (!tb)
		goto fail;
	g_format_exc = PyObject_GetAttrString(tb, "format_exception");
	Py_DECREF(tb);
	if (!g_format_exc)
		goto fail;
	r = PyImport_ImportModule("jazz");
	if (!r)
		goto fail;
	g_timeout_exc = PyObject_GetAttrString(r, "CallbackTimeout");
	Py_DECREF(r);
	if (!g_timeout_exc)
		goto fail;
	Py_DECREF(g);
	return 0;
fail:
	log_exception("start", err, errlen);
	Py_XDECREF(g);
	return -1;
}

int py_start(char *err, size_t errlen)
{
	char exe[PATH_MAX];
	ssize_t n;
	PyConfig cfg;
	PyStatus st;
	PyObject *sys_version, *prefix;

	if (PyImport_AppendInittab("jazz", PyInit_jazz) < 0) {
		snprintf(err, errlen, "python: cannot register the jazz module");
		return -1;
	}
	PyConfig_InitIsolatedConfig(&cfg);
	cfg.install_signal_handlers = 0;
	cfg.write_bytecode = 0;
	cfg.user_site_directory = 0;
	cfg.site_import = 1;	/* Debian's dist-packages stay importable */
	/*
	 * The path calculation starts from program_name; left alone it is
	 * "python3", looked up in PATH, which may be another installation
	 * (pyenv) whose stdlib does not match this libpython. Our own
	 * executable has no Python landmark beside it, so the search falls
	 * back to libpython's build prefix (/usr on Debian).
	 */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		st = PyConfig_SetBytesString(&cfg, &cfg.program_name, exe);
		if (PyStatus_Exception(st))
			goto fail;
	}
	st = Py_InitializeFromConfig(&cfg);
	if (PyStatus_Exception(st))
		goto fail;
	PyConfig_Clear(&cfg);
	if (jz_py_keys_init() || run_bootstrap(err, errlen)) {
		if (PyErr_Occurred())
			log_exception("start", NULL, 0);
		PyEval_SaveThread();
		return -1;
	}
	sys_version = PySys_GetObject("version");
	prefix = PySys_GetObject("prefix");
	jz_info("python: started %s (prefix %s)",
		sys_version ? PyUnicode_AsUTF8(sys_version) : "?",
		prefix ? PyUnicode_AsUTF8(prefix) : "?");
	/* from here on the GIL is free; callers take it with PyGILState_Ensure */
	PyEval_SaveThread();
	return 0;
fail:
	snprintf(err, errlen, "python: cannot start the interpreter: %s%s%s",
		 st.func ? st.func : "", st.func ? ": " : "",
		 st.err_msg ? st.err_msg : "exit requested");
	PyConfig_Clear(&cfg);
	return -1;
}

