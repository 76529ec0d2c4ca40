/* sql-edition/src/00-preflight.sql: refuse what this file must not touch, and
 * make sure the two roles exist.  Nothing is created before these checks pass. */

DO $$
DECLARE
	have_version text;
	have_schema name;
	r pg_catalog.pg_roles;
	want text;
	me pg_catalog.pg_roles;
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'cron_lock') THEN
		RAISE EXCEPTION 'the cron_lock extension is installed in this database'
			USING ERRCODE = '55000',
				  DETAIL = 'The extension and the plain-SQL edition share schema cron_lock; a database has one or the other.',
				  HINT = 'Keep the extension, or move its history to the edition first (see the README).';
	END IF;
	IF pg_catalog.current_schema() IS NULL THEN
		RAISE EXCEPTION 'no schema has been selected to create the cron_lock functions in'
			USING ERRCODE = '3F000',
				  HINT = 'Set search_path to an existing schema, for example: SET search_path = public;';
	END IF;
	IF pg_catalog.current_schema() = 'cron_lock' THEN
		RAISE EXCEPTION 'cron_lock cannot be installed into schema cron_lock'
			USING ERRCODE = '0A000',
				  DETAIL = 'Schema cron_lock holds the tables and views.',
				  HINT = 'Install it into another schema, for example with search_path = public.';
	END IF;

	-- Installed before: same schema for the functions, and never a downgrade.
	IF pg_catalog.to_regprocedure('cron_lock.edition()') IS NOT NULL THEN
		EXECUTE 'SELECT version, functions_schema FROM cron_lock.edition()'
			INTO have_version, have_schema;
		IF have_schema <> pg_catalog.current_schema() THEN
			RAISE EXCEPTION 'cron_lock is installed with its functions in schema "%"', have_schema
				USING ERRCODE = '55000',
					  HINT = pg_catalog.format('Install again with search_path = %I, or uninstall first.', have_schema);
		END IF;
		IF pg_catalog.string_to_array(have_version, '.')::int[]
			> pg_catalog.string_to_array('@VERSION@', '.')::int[] THEN
			RAISE EXCEPTION 'cron_lock % is installed; this file is version @VERSION@', have_version
				USING ERRCODE = '55000',
					  HINT = 'Install the newer file instead: a downgrade is not supported.';
		END IF;
	END IF;

	-- Two NOLOGIN roles, as the extension makes them.  An existing role of the
	-- same name is adopted only if it is just as powerless.
	SELECT * INTO me FROM pg_catalog.pg_roles WHERE rolname = current_user;
	FOREACH want IN ARRAY ARRAY['cron_lock_user', 'cron_lock_admin'] LOOP
		SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = want;
		IF NOT FOUND THEN
			IF NOT (me.rolsuper OR me.rolcreaterole) THEN
				RAISE EXCEPTION 'role "%" does not exist and "%" may not create it', want, current_user
					USING ERRCODE = '42501',
						  DETAIL = 'The edition grants its functions to two NOLOGIN roles, cron_lock_user and cron_lock_admin.',
						  HINT = pg_catalog.format('Ask an administrator to run: CREATE ROLE cron_lock_user NOLOGIN; CREATE ROLE cron_lock_admin NOLOGIN; GRANT cron_lock_user, cron_lock_admin TO %I WITH ADMIN OPTION; then install again.', current_user);
			END IF;
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', want);
		ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
			OR r.rolreplication OR r.rolbypassrls
			OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid) THEN
			RAISE EXCEPTION 'role "%" already exists with powers cron_lock will not adopt', want
				USING ERRCODE = '42710',
					  DETAIL = 'cron_lock grants its functions to this role and expects a NOLOGIN role with no other attributes or memberships.',
					  HINT = 'Drop or rename that role, or remove its LOGIN, SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS attributes and role memberships, then try again.';
		END IF;
	END LOOP;
END
$$;
