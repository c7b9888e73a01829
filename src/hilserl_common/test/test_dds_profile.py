"""The Fast DDS profile a user writes for a graph split over machines (hilserl_common.dds_profile):
well-formed, confined to the robot network's address, with the peers and the receive buffer."""
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from hilserl_common.dds_profile import RECEIVE_BUFFER_BYTES

NS = {'p': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}


def write_profile(*args):
    return subprocess.run([sys.executable, '-m', 'hilserl_common.dds_profile', *args],
                          capture_output=True, text=True, timeout=60)


def test_the_profile_keeps_to_the_robot_network_and_names_every_peer():
    result = write_profile('--address', '192.168.50.2', '--peer', '192.168.50.3', '--peer',
                           '192.168.50.4')
    assert result.returncode == 0, result.stderr
    root = ElementTree.fromstring(result.stdout)
    transport = root.find('p:transport_descriptors/p:transport_descriptor', NS)
    assert transport.find('p:type', NS).text == 'UDPv4'
    assert [a.text for a in transport.findall('p:interfaceWhiteList/p:address', NS)] == [
        '192.168.50.2']
    assert int(transport.find('p:receiveBufferSize', NS).text) == RECEIVE_BUFFER_BYTES
    rtps = root.find('p:participant/p:rtps', NS)
    assert rtps.find('p:useBuiltinTransports', NS).text == 'false'  # no shared memory
    peers = [a.text for a in rtps.findall('.//p:initialPeersList//p:address', NS)]
    assert peers == ['192.168.50.2', '192.168.50.3', '192.168.50.4']


def test_the_kernel_default_buffer_and_bad_input():
    result = write_profile('--address', '10.0.0.2', '--peer', '10.0.0.3', '--receive-buffer', '0')
    assert result.returncode == 0 and 'receiveBufferSize' not in result.stdout
    result = write_profile('--address', '10.0.0.2', '--peer', '10.0.0.3', '--receive-buffer',
                           '-1')
    assert result.returncode == 2 and '--receive-buffer -1' in result.stderr
    assert write_profile('--address', '10.0.0.2').returncode == 2  # no peer
