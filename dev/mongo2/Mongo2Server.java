// dev/services' runner for mongo-java-server (memory backend) on a given address:
//   java -cp 'LIBS/*' dev/mongo2/Mongo2Server.java HOST PORT
// The artifact's own InMemoryMongoServer.main binds localhost:27017 only, and its newest
// ServerVersion still announces wire version 8, which current drivers (pymongo 4.x needs 9,
// MongoDB 4.4) refuse; so the server announces 4.4 here. What it can store is not taken from
// that: relmig probes it (relmig.mongo.profile).
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

public class Mongo2Server {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Mongo2Server HOST PORT");
            System.exit(2);
        }
        MongoVersion version = new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return List.of(4, 4, 0);
            }

            @Override
            public int getWireVersion() {
                return 9;
            }
        };
        MongoServer server = new MongoServer(new MemoryBackend().version(version));
        server.bind(args[0], Integer.parseInt(args[1]));
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongo-java-server listening on " + args[0] + ":" + args[1]);
        Thread.currentThread().join();
    }
}
