import { describe, expect, it } from 'vitest';
import { convertQuadlet, type QuadletContext } from '../../../run-tool/systemd/quadlet.ts';
import { parseUnitText, type UnitEntry, type UnitError, type UnitFile } from '../../../run-tool/systemd/unit-file.ts';

function unit(path: string, text: string): UnitFile {
  const sections = new Map<string, UnitEntry[]>();
  const errors: UnitError[] = [];
  parseUnitText(text, path, sections, errors);
  expect(errors).toEqual([]);
  return { path, sections };
}

const ctx: QuadletContext = { executable: ['/node', '/rt.mjs'], storeRoot: '/store', present: new Set(['data.volume', 'pp.pod']), podMembers: new Map() };

/** The ExecStart line of a converted unit, continuation lines joined. */
function execStart(text: string): string {
  const line = text.split('\nExecStart=')[1]!;
  return line.slice(0, line.search(/\n[A-Z]/)).replace(/ \\\n\t/g, ' ');
}

describe('Quadlet conversion (podman-systemd.unit keys)', () => {
  it('a typical .container: every key becomes run-tool\'s flag, in order, with the image and Exec last', () => {
    const r = convertQuadlet(unit('/q/web.container', `[Container]
Image=localhost/web:1
ContainerName=web
Exec=httpd -f -p 8080
Environment=A=1 "B=two words"
EnvironmentFile=/etc/web.env
EnvironmentHost=true
PublishPort=127.0.0.1:8080:8080
Volume=data.volume:/data:ro
Volume=/srv:/srv
Network=none
Label=app=web tier=front
User=1000
Group=1000
WorkingDir=/srv
HostName=web1
PodmanArgs=--privileged --cpus 1
Notify=true
HealthCmd=wget -q -O- http://127.0.0.1:8080/
HealthInterval=30s
HealthRetries=3
HealthStartPeriod=5s
HealthTimeout=2s
AutoUpdate=registry
AddCapability=NET_ADMIN SYS_TIME
DropCapability=MKNOD
AddDevice=/dev/fuse
DNS=127.0.0.53
DNSSearch=example.test
DNSOption=ndots:2
NoNewPrivileges=true
SeccompProfile=unconfined
PidsLimit=100
Ulimit=nofile=512:1024
Sysctl=net.ipv4.ip_forward=1 kernel.msgmax=65536
ReadOnly=true
VolatileTmp=true
Tmpfs=/run
RunInit=true
Pull=never
StopTimeout=5
StopSignal=SIGINT
Entrypoint=/bin/sh
UserNS=keep-id
Mount=type=tmpfs,destination=/cache

[Service]
Restart=on-failure
`), ctx);
    expect(r.errors).toBeUndefined();
    const text = (r as { text: string }).text;
    expect(execStart(text)).toBe([
      '/node /rt.mjs --root /store run --name=web --cidfile=%t/%N.cid --replace --rm --cgroups=split --sdnotify=container -d',
      '--env A=1 --env "B=two words" --env-file /etc/web.env --env-host --publish 127.0.0.1:8080:8080 --volume systemd-data:/data:ro',
      '--volume /srv:/srv --network none --label app=web --label tier=front --user 1000:1000 --workdir /srv --hostname web1 --privileged',
      '--cpus 1 --health-cmd "wget -q -O- http://127.0.0.1:8080/" --health-interval 30s --health-retries 3 --health-start-period 5s',
      '--health-timeout 2s --label io.containers.autoupdate=registry --cap-add NET_ADMIN --cap-add SYS_TIME --cap-drop MKNOD',
      '--device /dev/fuse --dns 127.0.0.53 --dns-search example.test --dns-option ndots:2 --security-opt no-new-privileges',
      '--security-opt seccomp=unconfined --pids-limit 100 --ulimit nofile=512:1024 --sysctl net.ipv4.ip_forward=1',
      '--sysctl kernel.msgmax=65536 --read-only --tmpfs /tmp:rw,size=512M,mode=1777 --tmpfs /run --init --pull never',
      '--stop-timeout 5 --stop-signal SIGINT --entrypoint /bin/sh --userns keep-id --mount type=tmpfs,destination=/cache',
      'localhost/web:1 httpd -f -p 8080',
    ].join(' '));
    const lines = text.split('\n');
    expect(lines).toEqual(expect.arrayContaining(['Requires=data-volume.service', 'After=data-volume.service', 'SuccessExitStatus=137', 'RestartForceExitStatus=137', 'Type=notify']));
    // ExecStop and ExecStopPost wait the container's stop timeout before SIGKILL
    expect(text.split('\t-t 5 \\\n\t--cidfile=%t/%N.cid')).toHaveLength(3);
  });

  it('unknown keys and documented keys run-tool has no flag for are errors naming file and line; booleans are checked', () => {
    const r = convertQuadlet(unit('/q/bad.container', '[Container]\nImage=busybox\nTimezone=UTC\nFrobnicate=1\nReadOnly=maybe\nAnnotation=a=b\n'), ctx);
    expect(r.errors).toEqual([
      { file: '/q/bad.container', line: 3, message: "Timezone= (podman's --tz) is not supported by run-tool" },
      { file: '/q/bad.container', line: 4, message: 'unknown key Frobnicate in [Container]' },
      { file: '/q/bad.container', line: 5, message: 'ReadOnly=maybe: want a boolean' },
      { file: '/q/bad.container', line: 6, message: "Annotation= (podman's --annotation) is not supported by run-tool" },
    ]);
  });

  it('.volume, .network, .kube and .pod keys', () => {
    const v = convertQuadlet(unit('/q/data.volume', '[Volume]\nVolumeName=d1\nLabel=k=v\nDriver=local\nOptions=size=1m\nUser=1000\nGroup=1000\n'), ctx);
    expect(execStart((v as { text: string }).text)).toBe('/node /rt.mjs --root /store volume create --ignore --label k=v --driver local --opt o=size=1m,uid=1000,gid=1000 d1');
    const n = convertQuadlet(unit('/q/lan.network', '[Network]\nSubnet=10.89.7.0/24\nGateway=10.89.7.1\nInternal=yes\nDisableDNS=true\nIPv6=true\n'), ctx);
    expect(n.errors).toEqual([{ file: '/q/lan.network', line: 6, message: "IPv6= (podman's --ipv6) is not supported by run-tool" }]);
    const k = convertQuadlet(unit('/q/app.kube', '[Kube]\nYaml=app.yaml\nConfigMap=cm.yaml\nLogDriver=k8s-file\n'), ctx);
    expect(execStart((k as { text: string }).text)).toBe('/node /rt.mjs --root /store kube play --replace --configmap /q/cm.yaml --log-driver k8s-file /q/app.yaml');
    const p = convertQuadlet(unit('/q/pp.pod', '[Pod]\nPodName=pp\nNetwork=none\nLabel=a=b\nPodmanArgs=--hostname h\n'), ctx);
    expect((p as { text: string }).text).toContain('--name=pp \\\n\t--network none \\\n\t--label a=b \\\n\t--hostname h\n');
    const member = convertQuadlet(unit('/q/m.container', '[Container]\nImage=busybox\nPod=pp.pod\n'), ctx);
    expect((member as { text: string }).text.split('\n')).toEqual(expect.arrayContaining(['BindsTo=pp-pod.service', 'After=pp-pod.service']));
  });
});
