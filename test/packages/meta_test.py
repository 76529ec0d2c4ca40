#!/usr/bin/env python3
"""test/packages/meta_test.py: META.json holds to the PGXN meta spec 1.0.0 (the
fields it requires, their forms) and names the control file's default_version;
`make dist` gives the PGXN zip with META.json and the control file under one
top directory.  Ends with "N passed, N failed"."""
import json, os, re, subprocess, sys, time, zipfile

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
start = time.time()
passed = failed = 0
SEMVER = re.compile(r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$')
LICENSES = {'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd', 'freebsd',
            'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1', 'lgpl_3_0', 'mit',
            'mozilla_1_0', 'mozilla_1_1', 'openssl', 'perl_5', 'postgresql', 'qpl_1_0', 'ssleay',
            'sun', 'zlib', 'open_source', 'restricted', 'unrestricted', 'unknown'}


def check(name, ok, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print('ok   ' + name)
    else:
        failed += 1
        print('FAIL ' + name + (': ' + detail if detail else ''))


try:
    with open(os.path.join(repo, 'META.json')) as f:
        meta = json.load(f)
    check('META.json parses', isinstance(meta, dict))
except ValueError as e:
    check('META.json parses', False, str(e))
    print('%d passed, %d failed' % (passed, failed))
    sys.exit(1)

with open(os.path.join(repo, 'extension/cron_lock.control')) as f:
    control = re.search(r"^default_version = '([^']*)'", f.read(), re.M).group(1)
# PGXN versions are semantic versions: the control file's 1.2 is 1.2.0.
want = control + '.0' * (2 - control.count('.'))

for field in ('name', 'abstract', 'version', 'maintainer', 'license', 'provides', 'meta-spec'):
    check('required field ' + field, meta.get(field) not in (None, '', {}, []))
check('meta-spec 1.0.0', meta.get('meta-spec', {}).get('version') == '1.0.0')
check('name is the extension', meta.get('name') == 'cron_lock')
check('version is the control file\'s %s (%s)' % (control, want), meta.get('version') == want,
      str(meta.get('version')))
check('version is a semantic version', bool(SEMVER.match(str(meta.get('version')))))
lic = meta.get('license')
check('license is one the spec knows',
      lic in LICENSES if isinstance(lic, str) else
      bool(lic) and (all(l in LICENSES for l in lic) if isinstance(lic, list) else isinstance(lic, dict)))
prov = meta.get('provides', {}).get('cron_lock', {})
check('provides cron_lock at the same version', prov.get('version') == want)
check('provides names a file of the tree', os.path.isfile(os.path.join(repo, prov.get('file', '-'))))
check('provides names a docfile of the tree', os.path.isfile(os.path.join(repo, prov.get('docfile', '-'))))
pg = meta.get('prereqs', {}).get('runtime', {}).get('requires', {}).get('PostgreSQL', '')
check('prereqs PostgreSQL 15 or newer', re.sub(r'^>=\s*', '', pg) == '15.0.0', pg)
check('release_status', meta.get('release_status', 'stable') in ('stable', 'testing', 'unstable'))

# make dist: the committed tree as build/cron_lock-VERSION.zip.
r = subprocess.run(['make', '-s', 'dist'], cwd=repo, capture_output=True, text=True)
zpath = os.path.join(repo, 'build', 'cron_lock-%s.zip' % want)
check('make dist', r.returncode == 0 and os.path.isfile(zpath), r.stderr[-500:])
if os.path.isfile(zpath):
    names = zipfile.ZipFile(zpath).namelist()
    top = 'cron_lock-%s/' % want
    check('the zip holds one top directory', all(n.startswith(top) for n in names))
    check('the zip holds META.json and the control file',
          top + 'META.json' in names and top + 'extension/cron_lock.control' in names)
    check('the zip holds no build output', not any(n.startswith(top + 'build/') for n in names))

print('# meta: %ds' % (time.time() - start))
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
