// test/recipes/FencedTest.java JOB GO_FILE: the Java recipe's Lease.check()
// after a takeover (see fenced.mjs): "write1=ok", then, once GO_FILE exists,
// "write2=LK001" when the second write is refused. Compiled with
// docs/recipes/java/CronJob.java (CronLock is in it).
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

public class FencedTest {
    public static void main(String[] args) throws Exception {
        String job = args[0];
        Path go = Path.of(args[1]);
        String url = System.getenv("DATABASE_URL");
        CronLock.Options o = new CronLock.Options();
        o.instance = "stalled";
        o.ttlMs = 3000;
        o.retries = 1;
        new CronLock(() -> CronLock.connect(url, 5000), o).run(job, (lease, lost) -> {
            write(url, lease);
            System.out.println("write1=ok");
            while (!Files.exists(go)) Thread.sleep(50);
            try {
                write(url, lease);
                System.out.println("write2=ok");
            } catch (SQLException e) {
                System.out.println("write2=" + e.getSQLState());
            }
            return CronLock.Result.OK;
        });
    }

    static void write(String url, CronLock.Lease lease) throws SQLException {
        try (Connection c = CronLock.connect(url, 5000)) {
            c.setAutoCommit(false);
            try {
                lease.check(c);
                try (PreparedStatement st = c.prepareStatement("INSERT INTO fenced_log (job, token) VALUES (?, ?)")) {
                    st.setString(1, lease.job);
                    st.setLong(2, lease.token);
                    st.executeUpdate();
                }
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }
}
