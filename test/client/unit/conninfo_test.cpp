// Connection strings: which one is used, what is added, and that no password survives
// into anything printable.
#include <gtest/gtest.h>

#include <map>

#include "cronlock/conninfo.hpp"

using namespace cronlock;

namespace {

struct FakeEnv {
	std::map<std::string, std::string> vars;
	Getenv getenv() const
	{
		return [this](const char *name) -> const char * {
			auto it = vars.find(name);
			return it == vars.end() ? nullptr : it->second.c_str();
		};
	}
};

std::string param(const ConnectSettings &s, const std::string &key)
{
	for (const auto &[k, v] : s.params)
		if (k == key)
			return v;
	return "<unset>";
}

} // namespace

TEST(Conninfo, Choice)
{
	FakeEnv env;
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "");
	env.vars["DATABASE_URL"] = "postgresql://db/url";
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "postgresql://db/url");
	env.vars["CRONLOCK_DB"] = "dbname=cronlock";
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "dbname=cronlock");
	EXPECT_EQ(choose_conninfo(std::string("dbname=option"), env.getenv()), "dbname=option");
	env.vars["CRONLOCK_DB"] = "";
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "postgresql://db/url");
}

TEST(Conninfo, MaskKeyValue)
{
	EXPECT_EQ(mask_conninfo("host=h password=secret user=u"), "host=h password=**** user=u");
	EXPECT_EQ(mask_conninfo("password = 'se cret\\' x' host=h"), "password = '****' host=h");
	EXPECT_EQ(mask_conninfo("password=secret"), "password=****");
	EXPECT_EQ(mask_conninfo("sslpassword=keypass host=h"), "sslpassword=**** host=h");
	EXPECT_EQ(mask_conninfo("host=h dbname=password"), "host=h dbname=password");
	// libpq refuses this string, and its error names a fragment: still masked.
	EXPECT_EQ(mask_conninfo("host=h password=secret junk"), "host=h password=**** junk");
}

TEST(Conninfo, MaskUri)
{
	EXPECT_EQ(mask_conninfo("postgresql://u:secret@h:5432/db"), "postgresql://u:****@h:5432/db");
	EXPECT_EQ(mask_conninfo("postgres://u:p%40ss@h1:5432,h2:5433/db?sslmode=require"),
			  "postgres://u:****@h1:5432,h2:5433/db?sslmode=require");
	EXPECT_EQ(mask_conninfo("postgresql://u@h/db?password=secret&sslmode=require"),
			  "postgresql://u@h/db?password=****&sslmode=require");
	EXPECT_EQ(mask_conninfo("postgresql://h/db"), "postgresql://h/db");
	EXPECT_EQ(mask_conninfo("postgresql://u@h/db"), "postgresql://u@h/db");
	EXPECT_EQ(mask_conninfo("dbname=postgresql://u:pw@h/db"), "dbname=postgresql://u:****@h/db");
	EXPECT_EQ(mask_conninfo("password='postgresql://u:pw@h'"), "password='****'");
}

TEST(Conninfo, ScrubByPositionOnly)
{
	EXPECT_EQ(scrub("invalid URI postgresql://u:s3cret@h:x/db"), "invalid URI postgresql://u:****@h:x/db");
	EXPECT_EQ(scrub("missing \"=\" after \"password=s3cret junk\""),
			  "missing \"=\" after \"password=**** junk\"");
	// A one-letter password is not masked wherever that letter occurs.
	EXPECT_EQ(scrub("aaaa"), "aaaa");
}

TEST(Conninfo, PrepareSingleHost)
{
	FakeEnv env;
	ConnectTuning t;
	t.connect_timeout = Millis{1500};
	auto p = prepare_conninfo("host=localhost port=5432 password=s3cret", t, env.getenv());
	ASSERT_TRUE(p.settings) << p.error;
	const auto &s = *p.settings;
	EXPECT_EQ(s.hosts, (std::vector<HostSpec>{{"localhost", "", "5432"}}));
	EXPECT_TRUE(s.hosts[0].needs_lookup());
	EXPECT_EQ(s.target_session_attrs, "any");
	EXPECT_EQ(param(s, "host"), "<unset>"); // set per attempt
	EXPECT_EQ(param(s, "connect_timeout"), "<unset>"); // ours, per address: libpq's is unused
	EXPECT_EQ(param(s, "keepalives"), "1");
	EXPECT_EQ(param(s, "tcp_user_timeout"), "1500"); // no longer than one attempt's budget
	EXPECT_EQ(param(s, "fallback_application_name"), "cronlock");
	EXPECT_EQ(s.display, "host=localhost port=5432 password=****");
	EXPECT_EQ(s.connect_timeout, Millis{1500});
}

TEST(Conninfo, PrepareMultiHost)
{
	FakeEnv env;
	auto p = prepare_conninfo("postgresql://u:pw@h1:5432,[::1]:5433/db", {}, env.getenv());
	ASSERT_TRUE(p.settings) << p.error;
	EXPECT_EQ(p.settings->hosts, (std::vector<HostSpec>{{"h1", "", "5432"}, {"::1", "", "5433"}}));
	EXPECT_FALSE(p.settings->hosts[1].needs_lookup());
	EXPECT_EQ(p.settings->target_session_attrs, "read-write");
	EXPECT_EQ(param(*p.settings, "password"), "pw");
	EXPECT_EQ(param(*p.settings, "tcp_user_timeout"), "5000");

	// The user's choice wins.
	p = prepare_conninfo("host=h1,h2 target_session_attrs=any", {}, env.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_EQ(p.settings->target_session_attrs, "any");

	// Hosts from the environment count too; so does PGTARGETSESSIONATTRS. Sockets and
	// given addresses are not looked up.
	env.vars["PGHOST"] = "/run/postgresql,b,c";
	env.vars["PGHOSTADDR"] = ",10.0.0.2,";
	env.vars["PGPORT"] = "5433";
	p = prepare_conninfo("", {}, env.getenv());
	ASSERT_TRUE(p.settings) << p.error;
	EXPECT_EQ(p.settings->hosts,
			  (std::vector<HostSpec>{{"/run/postgresql", "", "5433"}, {"b", "10.0.0.2", "5433"},
									 {"c", "", "5433"}}));
	EXPECT_FALSE(p.settings->hosts[0].needs_lookup());
	EXPECT_FALSE(p.settings->hosts[1].needs_lookup());
	EXPECT_TRUE(p.settings->hosts[2].needs_lookup());
	EXPECT_EQ(p.settings->target_session_attrs, "read-write");
	env.vars["PGTARGETSESSIONATTRS"] = "prefer-standby";
	p = prepare_conninfo("", {}, env.getenv());
	EXPECT_EQ(p.settings->target_session_attrs, "prefer-standby");

	// No host at all: libpq's default socket.
	p = prepare_conninfo("dbname=x", {}, FakeEnv{}.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_EQ(p.settings->hosts, (std::vector<HostSpec>{{"", "", ""}}));
	EXPECT_FALSE(p.settings->hosts[0].needs_lookup());

	// A service file may name the hosts: libpq walks them.
	p = prepare_conninfo("service=nightly", {}, FakeEnv{}.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_TRUE(p.settings->hosts.empty());
	EXPECT_EQ(param(*p.settings, "service"), "nightly");
}

// Values libpq would refuse only when connecting are a configuration error up front.
TEST(Conninfo, BadOptionValues)
{
	FakeEnv env;
	for (const char *bad : {"sslmode=bogus", "gssencmode=maybe", "channel_binding=x",
							"host=h1,h2 target_session_attrs=writable", "port=abc",
							"port=70000", "host=a,b port=1,2,3"}) {
		auto p = prepare_conninfo(bad, {}, env.getenv());
		EXPECT_FALSE(p.settings) << bad;
		EXPECT_FALSE(p.error.empty()) << bad;
	}
	env.vars["PGSSLMODE"] = "bogus";
	EXPECT_FALSE(prepare_conninfo("host=h", {}, env.getenv()).settings);
	env.vars["PGSSLMODE"] = "verify-full";
	auto p = prepare_conninfo("host=h", {}, env.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_TRUE(p.settings->encryption_required);
	EXPECT_FALSE(prepare_conninfo("host=h sslmode=prefer", {}, env.getenv()).settings->encryption_required);
}

TEST(Conninfo, ParseErrorsAreScrubbed)
{
	FakeEnv env;
	env.vars["PGPASSWORD"] = "envsecret";
	auto p = prepare_conninfo("host=h password=s3cret garbage", {}, env.getenv());
	EXPECT_FALSE(p.settings);
	EXPECT_FALSE(p.error.empty());
	EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;

	p = prepare_conninfo("password=s3cret nosuchoption=1", {}, env.getenv());
	EXPECT_FALSE(p.settings);
	EXPECT_NE(p.error.find("nosuchoption"), std::string::npos) << p.error;
	EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;

	p = prepare_conninfo("postgresql://u:s3cret@h:notaport/db", {}, env.getenv());
	if (!p.settings) {
		EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;
	}

	// A parse error that would quote the password is withheld, not half-masked.
	p = prepare_conninfo("postgresql://u:s3cr%zzet@h/db", {}, env.getenv());
	EXPECT_FALSE(p.settings);
	EXPECT_EQ(p.error.find("s3cr"), std::string::npos) << p.error;
}
